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
    from studio.runs import RunInfo
    from studio.runs.adapters import adapter_dir_of
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


def test_one_answer_for_a_runs_base_from_the_run_its_adapter_or_a_checkpoint(tmp_path):
    from studio.runs.folder import run_base, served_adapter

    run = tmp_path / "run"
    (run / "config.yaml").parent.mkdir(parents=True)
    (run / "config.yaml").write_text("method: sft\n")
    ckpt = run / "checkpoint-2"
    ckpt.mkdir()
    (ckpt / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/resolved/folder"}))
    assert run_base(ckpt) == run_base(run) == "/resolved/folder"  # no marker yet: PEFT's own record
    adapter(run / "adapter")
    assert served_adapter(run) == run / "adapter"
    assert run_base(ckpt) == run_base(run) == run_base(run / "adapter") == "embedded"  # its configured name


def test_run_files_are_written_whole_under_a_lock_and_only_declared_names(tmp_path):
    from studio.runs.files import BENCH_PROGRESS_FILE
    from studio.runs.folder import read_json, write_json

    write_json(tmp_path, BENCH_PROGRESS_FILE, {"state": "running", "done": 1})
    assert read_json(tmp_path, BENCH_PROGRESS_FILE) == {"state": "running", "done": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".{BENCH_PROGRESS_FILE}.lock", BENCH_PROGRESS_FILE]
    with pytest.raises(ValueError, match="declare it in studio.runs.files.RUN_FILES"):
        write_json(tmp_path, "notes.json", {})


def _spelled_names(tree, names):
    """String constants (docstrings aside) naming a run file, and `path / "adapter"` pieces."""
    import ast

    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    found = [(n.lineno, n.value) for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and n.value in names and id(n) not in docs]
    found += [(n.lineno, n.right.value) for n in ast.walk(tree)
              if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)
              and isinstance(n.right, ast.Constant) and n.right.value == "adapter"]
    return found


def test_no_run_file_name_is_spelled_outside_studio_runs():
    """Only studio/runs/ names a run's files: everyone else imports the names (and the readers and writer)."""
    import ast
    from pathlib import Path

    from studio.runs.files import ADAPTER_DIR, RUN_FILES

    studio = Path(__file__).resolve().parent.parent / "studio"
    names = {*RUN_FILES, ADAPTER_DIR + ".tmp"}
    planted = ast.parse('"""status.json in a docstring is fine."""\nX = "eval.json"\ny = run / "adapter"\n')
    assert _spelled_names(planted, names) == [(2, "eval.json"), (3, "adapter")]
    spelled = [f"{path.relative_to(studio.parent)}:{line}: {value}"
               for path in sorted(studio.rglob("*.py")) if "runs" not in path.relative_to(studio).parts[:1]
               for line, value in _spelled_names(ast.parse(path.read_text(encoding="utf-8")), names)]
    assert not spelled, "import the name from studio.runs.files instead:\n" + "\n".join(spelled)
