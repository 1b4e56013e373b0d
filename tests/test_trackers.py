"""Trackers are opt-in: a tiny run with report_to=tensorboard writes event files into its run folder
without touching the network; the default writes none; unknown or missing trackers are refused."""

import socket

import pytest
from test_training import tiny_config

from studio.config import RunConfig
from studio.errors import StudioError


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open an internet connection during the test fails it."""
    attempts = []
    real = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("network blocked by the test")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_tensorboard_events_land_in_the_run_folder(tiny_model_dir, sft_file, tmp_path, no_network,
                                                   monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from test_hub import CANARY

    from studio.training.train import train

    # the trainer's arguments, logged to TensorBoard, must not carry it
    monkeypatch.setenv("HF_TOKEN", CANARY)
    run_dir = tmp_path / "run"
    train(tiny_config(tiny_model_dir, sft_file, "sft", run_dir, report_to="tensorboard"), run_dir)
    events = list(run_dir.rglob("events.out.tfevents.*"))
    assert events and all(run_dir in e.parents for e in events)
    acc = EventAccumulator(str(events[0].parent)).Reload()
    losses = [e.value for e in acc.Scalars("train/loss")]
    assert len(losses) == 3 and all(v > 0 for v in losses)
    assert no_network == []
    assert not [p for p in run_dir.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]

    plain = tmp_path / "plain"
    train(tiny_config(tiny_model_dir, sft_file, "sft", plain), plain)
    assert not list(plain.rglob("events.out.tfevents.*"))


def test_unknown_or_missing_trackers_are_refused(tmp_path):
    import importlib.util

    from studio.config.trackers import check, report_to

    base = {"data": {"source": "x.jsonl"}}
    assert RunConfig.from_dict(base).training.report_to == "none" and report_to("none") == "none"
    assert report_to(" TensorBoard ") == ["tensorboard"]
    with pytest.raises(StudioError, match="'training.report_to' must be one of none, tensorboard, .*not "
                                          "'mlflow'"):
        RunConfig.from_dict({**base, "training": {"report_to": "tensorboard,mlflow"}}).validate()
    for name in ("trackio", "wandb"):
        if importlib.util.find_spec(name) is None:
            with pytest.raises(StudioError, match=f"pip install 'studio\\[{name}\\]'"):
                check(name)
        else:
            assert check(name) == [name]
