"""Issue 31 (part A): the studio writes and deletes only what it owns, runs code only when the user says so,
and keeps its state whole and private through crashes, reused names and a full disk."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from test_runs_files import run_config

from studio import runs
from studio.runs.files import prepare_resume
from studio.safety import consent
from studio.safety.owned import OWNER_FILE, DiskFullError, NotOursError, mark, remove_owned, replacing


def _users_folder(path: Path) -> Path:
    """What a user may point an export at: a cloned repository with an adapter in it and a file of theirs."""
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "notes.txt").write_text("mine")
    (path / "adapter_config.json").write_text("{}")
    return path


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["adapter", "gguf-lora", "gguf"])
def test_every_export_format_refuses_a_folder_it_did_not_write(fmt, tmp_path, monkeypatch, capsys):
    from studio.cli import main

    folder = _users_folder(tmp_path / "clone")
    before = _tree(folder)
    monkeypatch.chdir(folder)  # `--to .` deleted the current folder with everything in it
    for to in (".", str(folder)):
        assert main(["export", "no-such-run", "--to", to, "--format", fmt]) == 2
        err = capsys.readouterr().err
        assert "is not an earlier" in err and "nothing was changed" in err and err.count("\n") == 1, err
    assert _tree(folder) == before


def test_an_earlier_export_is_replaced_only_by_the_same_format_and_kept_until_the_new_one_is_whole(tmp_path):
    target = tmp_path / "out"
    target.mkdir()  # an empty folder may be written into
    with replacing(target, "adapter export", "adapter export") as tmp:
        (tmp / "weights").write_text("first")
    assert json.loads((target / OWNER_FILE).read_text())["kind"] == "adapter export"
    with pytest.raises(NotOursError, match="holds the studio's adapter export, not its GGUF export"), \
            replacing(target, "GGUF export", "GGUF export"):
        pass
    with pytest.raises(OSError, match="disk full"), \
            replacing(target, "adapter export", "adapter export") as tmp:
        (tmp / "weights").write_text("half")
        raise OSError("disk full")
    assert (target / "weights").read_text() == "first"
    with replacing(target, "adapter export", "adapter export") as tmp:
        (tmp / "weights").write_text("second")
    assert (target / "weights").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing left aside


def test_deletes_touch_only_folders_the_studio_marked(tmp_path):
    from studio.data.prepare import token_cache

    theirs = token_cache.cache_dir() / "someone-elses"
    theirs.mkdir(parents=True)
    (theirs / "data.bin").write_text("keep")
    ours = token_cache.cache_dir() / "abc"
    ours.mkdir()
    mark(ours, token_cache.CACHE_ENTRY)
    assert token_cache.clear()[0] == 1
    assert not ours.exists() and (theirs / "data.bin").read_text() == "keep"
    assert not remove_owned(theirs, token_cache.CACHE_ENTRY) and theirs.exists()


def test_resume_sets_a_checkpoint_it_cannot_vouch_for_aside_instead_of_deleting_it(tmp_path):
    from test_runs_files import _fake_checkpoint

    run_dir = tmp_path / "run"
    ok = _fake_checkpoint(run_dir, 10)
    foreign = _fake_checkpoint(run_dir, 30, complete=False)
    (foreign / "my-notes.txt").write_text("not the studio's")
    assert prepare_resume(run_dir) == ok
    assert runs.checkpoints(run_dir) == [ok]
    assert (run_dir / ".incomplete-checkpoint-30" / "my-notes.txt").read_text() == "not the studio's"


def test_a_recipe_line_alone_runs_no_code_and_a_yes_is_recorded(tiny_model_dir, sft_file, studio_home):
    fd = runs.files.try_lock(runs.device_lock_path())  # the device is busy: started runs stay queued
    try:
        cfg = run_config(tiny_model_dir, sft_file)
        cfg.model.trust_remote_code = True
        with pytest.raises(consent.CodeConsentError, match=r"model.trust_remote_code.*--allow-code"):
            runs.start_run(cfg)
        assert runs.list_runs() == []  # refused before a folder was made
        from studio.cli import build_parser

        for argv in (["train", "recipe.yaml", "--allow-code"], ["resume", "RUN", "--allow-code"]):
            assert build_parser().parse_args(argv).allow_code
        info = runs.start_run(cfg, allow_code=True)
        record = json.loads((Path(info.dir) / consent.CONSENT_FILE).read_text())
        assert record["allowed"] == ["model.trust_remote_code"] and record["how"] == consent.FROM_CLI
        plain = runs.start_run(run_config(tiny_model_dir, sft_file, name="plain"))
        assert not (Path(plain.dir) / consent.CONSENT_FILE).exists()
        runs.stop_run(plain.id)
        # Code an override adds on resume needs the same yes.
        with pytest.raises(consent.CodeConsentError):
            runs.resume_run(plain.id, ["model.trust_remote_code=true"])
    finally:
        os.close(fd)


def test_the_apps_start_needs_the_confirmation_box_and_clears_it(tiny_model_dir, sft_file):
    from studio.ui import recipes
    from studio.ui.make import train_tab

    cfg = run_config(tiny_model_dir, sft_file)
    cfg.model.trust_remote_code = True
    values = {**recipes.values_from_config(cfg, recipes.ALL_KEYS), "recipe": cfg.to_dict()}
    fd = runs.files.try_lock(runs.device_lock_path())
    try:
        refused = train_tab.start_training(values)
        assert "--allow-code" in refused["status"] and "run" not in refused and runs.list_runs() == []
        started = train_tab.start_training({**values, "allow_code": True})
    finally:
        os.close(fd)
    assert started["allow_code"] is False  # each run needs its own yes
    record = json.loads((Path(runs.get_run(started["run"]["value"]).dir) / consent.CONSENT_FILE).read_text())
    assert record["how"] == consent.FROM_APP


def test_home_and_run_folders_are_private_and_config_is_written_whole(tiny_model_dir, sft_file, studio_home):
    fd = runs.files.try_lock(runs.device_lock_path())
    try:
        info = runs.start_run(run_config(tiny_model_dir, sft_file))
    finally:
        os.close(fd)
    run_dir = Path(info.dir)
    assert studio_home.stat().st_mode & 0o777 == 0o700
    assert runs.runs_dir().stat().st_mode & 0o777 == 0o700 and run_dir.stat().st_mode & 0o777 == 0o700
    for name in ("config.yaml", "status.json"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o600, name
    assert [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_the_gguf_cache_is_keyed_by_the_files_content_not_its_name_and_size(tmp_path):
    from studio.models.loading import _gguf_cache_folder

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF" + b"\x01" * 4096)
    first = _gguf_cache_folder(gguf, tmp_path / "cache")
    gguf.write_bytes(b"GGUF" + b"\x02" * 4096)  # new weights, same name and size
    assert _gguf_cache_folder(gguf, tmp_path / "cache") != first


def test_uploads_with_the_same_name_never_overwrite_each_other(tmp_path):
    from studio.safety.atomic import new_file

    kept = []
    for text in ("first", "second"):  # what the Data tab's upload_file does with each upload
        target = new_file(tmp_path, "data.jsonl")
        target.write_text(text)
        kept.append(target)
    assert [p.name for p in kept] == ["data.jsonl", "data-2.jsonl"]
    assert [p.read_text() for p in kept] == ["first", "second"]


def test_the_worker_does_not_import_from_its_current_folder(tiny_model_dir, sft_file, tmp_path):
    """A `yaml.py` in the folder training starts from would shadow the library (worker started with -P)."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "yaml.py").write_text(f"open({str(tmp_path / 'shadowed')!r}, 'w').close()\nraise SystemExit(3)\n")
    fd = runs.files.try_lock(runs.device_lock_path())
    os.chdir(cwd)
    try:
        info = runs.start_run(run_config(tiny_model_dir, sft_file, steps=1))
    finally:
        os.chdir(tmp_path)
        os.close(fd)
    (Path(info.dir) / "config.yaml").write_text("method: [not, a, method\n")  # the worker fails fast
    runs.reconcile()
    for _ in range(600):
        if runs.get_run(info.id).state == "failed":
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert not (tmp_path / "shadowed").exists()
    assert runs.get_run(info.id).state == "failed"


FULL_DISK_SKIP = "needs root to mount a small tmpfs (the disk-full checks run where the tests run as root)"


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip(FULL_DISK_SKIP)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], check=False)
    if mounted.returncode:
        pytest.skip(FULL_DISK_SKIP)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as fh:  # unbuffered: closing it has nothing left to write
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_leaves_the_last_good_state_readable(small_disk, tiny_model_dir, sft_file, monkeypatch):
    import datasets

    from studio.config import RunConfig
    from studio.data.prepare import token_cache

    monkeypatch.setenv("STUDIO_HOME", str(small_disk / "home"))
    assert token_cache.save("k", datasets.Dataset.from_dict({"x": [1, 2]}), {"source": "a"}) is not None
    cfg = run_config(tiny_model_dir, sft_file)
    cfg.save(small_disk / "config.yaml")
    with replacing(small_disk / "export", "adapter export", "adapter export") as tmp:
        (tmp / "weights").write_text("good")
    _fill(small_disk)
    bigger = run_config(tiny_model_dir, sft_file, name="x" * 200_000)
    with pytest.raises(OSError):
        bigger.save(small_disk / "config.yaml")
    assert RunConfig.from_yaml(small_disk / "config.yaml").output.name == "r"
    with pytest.raises(DiskFullError, match="is full.*holds what it held before"), \
            replacing(small_disk / "export", "adapter export", "adapter export") as tmp:
        (tmp / "weights").write_bytes(b"\0" * 300_000)
    assert (small_disk / "export" / "weights").read_text() == "good"
    # The tokenized-data cache: the next run tokenizes again; the earlier entry stays whole and readable.
    bigger_rows = datasets.Dataset.from_dict({"x": list(range(50_000))})
    assert token_cache.save("k", bigger_rows, {"source": "b"}) is None
    dataset, meta = token_cache.load("k")
    assert dataset["x"] == [1, 2] and meta["source"] == "a"
    assert sorted(p.name for p in small_disk.iterdir()) == ["config.yaml", "export", "filler", "home"]
    assert [p.name for p in token_cache.cache_dir().iterdir()] == ["k"]


def test_metrics_are_followed_incrementally_and_reread_when_the_file_is_replaced(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    metrics = run_dir / runs.METRICS_FILE
    metrics.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo')
    assert [r["step"] for r in runs.read_metrics(run_dir)] == [1]
    with open(metrics, "r+b") as fh:  # the bytes already read are not parsed again (nothing rewrites them)
        fh.write(b'{"step": 9, "loss": 2.0}')
        fh.seek(0, os.SEEK_END)
        fh.write(b'ss": 1.5}\n{"step": 3, "loss": 1.0}\n')
    assert [r["step"] for r in runs.read_metrics(run_dir)] == [1, 2, 3]
    runs.files.atomic_write(metrics, '{"step": 1, "loss": 2.0}\n')  # a resume rewrites it: read afresh
    assert [r["step"] for r in runs.read_metrics(run_dir)] == [1]


def test_the_studio_log_rotates(tmp_path):
    import logging

    from studio.logs import rotating_handler

    handler = rotating_handler(tmp_path / "studio.log", max_bytes=2000, backups=2)
    logger = logging.getLogger("studio.test-rotation")
    logger.addHandler(handler)
    try:
        for i in range(200):
            logger.warning("line %d %s", i, "x" * 50)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["studio.log", "studio.log.1", "studio.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
