"""One answer to "where is this run's adapter" (studio.runs.files.adapter_folder), asked by every reader."""

import json

import pytest

from studio.runs.files import adapter_folder


def adapter(folder, method="sft"):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "studio_base.json").write_text(json.dumps({"model": "embedded", "method": method}))
    return folder


def test_final_adapter_then_newest_checkpoint_then_none(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert adapter_folder(run) is None
    adapter(run / "checkpoint-2")
    adapter(run / "checkpoint-10")
    (run / "checkpoint-12").mkdir()  # written without an adapter: never picked
    assert adapter_folder(run) == run / "checkpoint-10"  # by step, not by name
    assert adapter_folder(run, final_only=True) is None
    assert adapter_folder(run, "checkpoint-2") == run / "checkpoint-2"
    assert adapter_folder(run, "checkpoint-12") is None
    final = adapter(run / "adapter")
    assert adapter_folder(run) == final == adapter_folder(run, final_only=True)
    assert adapter_folder(final) == final  # an adapter folder answers for itself


def test_the_readers_ask_it(tmp_path, capsys):
    from studio.errors import StudioError
    from studio.inference import adapter_dir_of
    from studio.runs import RunInfo
    from studio.runs.commands import report
    from studio.ui.run_picker import has_adapter

    run = tmp_path / "run"
    adapter(run / "checkpoint-3")
    assert has_adapter(run)  # a stopped run's checkpoint is something to chat with
    with pytest.raises(StudioError, match="no trained adapter"):
        adapter_dir_of(run)  # before/after, export and scoring want the final adapter
    info = RunInfo(id="r", dir=run, name="r", method="sft", state="stopped", step=3)
    assert report(info) == 130 and f"adapter in {run / 'checkpoint-3'}" in capsys.readouterr().err
    final = adapter(run / "adapter", method="reward")
    assert adapter_dir_of(run) == final
