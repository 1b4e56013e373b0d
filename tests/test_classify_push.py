"""A classify run pushed to the Hub (the fake Hub of tests/test_hub.py, huggingface_hub's real client) as a
model
that transformers' pipeline loads: id2label with the run's names, the pipeline tag and the figures in the
card;
the pushed bytes loaded back with pipeline() give the run's own figures. And a dataset's ClassLabel names are
kept as the labels."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import pytest
from test_hub import CANARY, FakeHub, _handler
from tiny_encoder import build_tiny_encoder, sentiment_rows, write_jsonl

from studio.config import RunConfig
from studio.training.train import train


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("push")
    encoder = build_tiny_encoder(root / "bert")
    files = (write_jsonl(root / "train.jsonl", sentiment_rows(24)),
             write_jsonl(root / "eval.jsonl", sentiment_rows(8, seed=1)))
    cfg = RunConfig.from_dict({
        "method": "classify", "model": {"name": str(encoder)},
        "data": {"source": str(files[0]), "eval_source": str(files[1])}, "lora": {"r": 2, "alpha": 4},
        "training": {"num_epochs": 2, "batch_size": 8, "max_length": 16, "learning_rate": 5e-3,
                     "save_steps": 100},
        "classify": {"train": "lora", "head_learning_rate": 5e-2}}).validate()
    train(cfg, root / "run")
    return root / "run", files[1]


@pytest.fixture
def fake_hub():
    state = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield state
    server.shutdown()


def test_a_pushed_classifier_loads_in_pipeline_by_its_files_with_the_runs_figures(classifier_run, fake_hub,
                                                                                   tmp_path):
    from transformers import pipeline

    from studio.publish.classify_push import push_classifier

    run_dir, eval_file = classifier_run
    url = push_classifier(run_dir, "alice/tiny-classifier", token=CANARY, endpoint=fake_hub.url)
    assert url.endswith("/alice/tiny-classifier")
    pushed = fake_hub.repos["alice/tiny-classifier"]["files"]
    assert {"config.json", "model.safetensors", "README.md", "tokenizer.json"} <= set(pushed)
    config = json.loads(pushed["config.json"])
    assert config["id2label"] == {"0": "bad", "1": "good"} and config["label2id"] == {"bad": 0, "good": 1}
    card = pushed["README.md"].decode()
    after = json.loads((run_dir / "eval.json").read_text())["after"]
    assert "pipeline_tag: text-classification" in card and "library_name: transformers" in card
    assert f"{after['macro_f1']:.4f}" in card and "| good |" in card and "| bad |" in card
    everything = b"".join(pushed.values())
    assert CANARY.encode() not in everything and str(run_dir.parent).encode() not in everything

    folder = tmp_path / "downloaded"  # what a user's download of the repo holds, byte for byte
    folder.mkdir()
    for name, data in pushed.items():
        (folder / name).write_bytes(data)
    classify = pipeline("text-classification", model=str(folder))
    rows = [json.loads(line) for line in eval_file.read_text().splitlines()]
    answers = classify([r["text"] for r in rows])
    accuracy = sum(a["label"] == r["label"] for a, r in zip(answers, rows, strict=True)) / len(rows)
    assert {a["label"] for a in answers} <= {"bad", "good"} and round(accuracy, 4) == after["accuracy"]


def test_a_datasets_classlabel_names_become_the_labels(tmp_path):
    import datasets

    from studio.data.layouts.labelled import read_labelled

    features = datasets.Features({"text": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "neutral", "positive"]),
                                  "tags": datasets.List(datasets.ClassLabel(names=["O", "B-PER"]))})
    ds = datasets.Dataset.from_dict({"text": ["bad", "meh", "good", "fine"], "label": [0, 1, 2, 2],
                                     "tags": [[0], [1], [0], [1]]}, features=features)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "reviews"))  # as the Hub's splits are
    data = read_labelled(str(tmp_path / "reviews"), label_column="label")
    assert data.labels == ["negative", "neutral", "positive"] and data.targets == [0, 1, 2, 2]
    from studio.data.read.hub import named_records

    assert named_records(ds)[1] == {"text": "meh", "label": "neutral", "tags": ["B-PER"]}


def test_a_classifier_card_names_the_encoders_licence_from_the_catalog():
    from studio.publish.classify_push import classifier_card

    facts = {"base_model": "FacebookAI/roberta-base", "pipeline_tag": "text-classification",
             "labels": ["bad", "good"], "strategy_trained": "lora"}
    assert "license: mit" in classifier_card("alice/c", facts, None)
    assert "license:" not in classifier_card("alice/c", {**facts, "base_model": "/my/encoder"}, None)


def test_the_share_tab_lists_and_exports_a_classifier_run(classifier_run, tmp_path):
    """A classify run is offered to Share whether it saved an adapter (LoRA) or a whole model (full or
    head-only: no adapter), and Export writes the one folder transformers' pipeline loads."""
    import shutil

    from studio.evaluation.classify_eval import CLASSIFIER_FILE
    from studio.runs.files import update_status
    from studio.runs.registry import create_run, get_run
    from studio.ui.run_picker import has_adapter, refresh_shareable_runs, run_choices, shareable
    from studio.ui.share import export_tab

    run_dir, _ = classifier_run
    registered = create_run(RunConfig.from_yaml(run_dir / "config.yaml"))  # queued, never started
    shutil.copytree(run_dir, registered, dirs_exist_ok=True, ignore=shutil.ignore_patterns("status.json"))
    update_status(registered, state="completed")
    run_id = get_run(registered).id
    assert run_id in [value for _, value in run_choices(to_share=True)]
    offered = refresh_shareable_runs(None)  # as Share opens: the picker is filled again, the classifier kept
    assert run_id in [value for _, value in offered["choices"]]
    said = export_tab.export_run(run_id, str(tmp_path / "out"), False)
    assert said.startswith("✓ Saved the classifier to"), said
    assert (tmp_path / "out" / "config.json").is_file()
    whole = tmp_path / "full-run"  # a full fine-tune keeps model/ and no adapter
    (whole / "model").mkdir(parents=True)
    shutil.copy(run_dir / CLASSIFIER_FILE, whole / CLASSIFIER_FILE)
    assert shareable(whole) and not has_adapter(whole)
