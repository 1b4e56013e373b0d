"""The run folder as the truth: metrics read while written, checkpoint completeness, the registry,
the queue's order, folder ownership, and the failure sentences (worker called in this process)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio import runs
from studio.config import RunConfig
from studio.runs import worker
from studio.runs.files import prepare_resume, write_checkpoint_marker

ROOT = Path(__file__).resolve().parent.parent


def run_config(model_dir, data_file, name="r", steps=6, save_steps=2) -> RunConfig:
    return RunConfig.from_dict({
        "method": "sft",
        "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": steps, "batch_size": 2, "max_length": 64,
                     "save_steps": save_steps},
        "output": {"name": name},
    })


@pytest.fixture
def device_busy():
    """Hold the device lock, as a training would: started runs stay queued."""
    fd = runs.files.try_lock(runs.device_lock_path())
    assert fd is not None
    yield
    os.close(fd)


def queued_run(cfg: RunConfig) -> runs.RunInfo:
    fd = runs.files.try_lock(runs.device_lock_path())
    try:
        info = runs.start_run(cfg)
    finally:
        os.close(fd)
    assert info.state == "queued"
    return info


def test_metrics_are_read_correctly_while_a_writer_appends(tmp_path):
    path = tmp_path / runs.METRICS_FILE
    total = 400
    done = threading.Event()

    def writer():
        with path.open("a", encoding="utf-8") as fh:
            for step in range(total):
                line = json.dumps({"step": step, "loss": 1.0 / (step + 1), "note": "x" * (step % 50)}) + "\n"
                cut = len(line) // 2
                fh.write(line[:cut])  # a reader may see half a line here
                fh.flush()
                time.sleep(0.0002)
                fh.write(line[cut:])
                fh.flush()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads, seen = 0, 0
    while not done.is_set() or reads == 0:
        records = runs.read_metrics(tmp_path)
        assert [r["step"] for r in records] == list(range(len(records)))  # complete records, in order
        assert len(records) >= seen  # append-only: never fewer than before
        seen, reads = len(records), reads + 1
    thread.join()
    assert len(runs.read_metrics(tmp_path)) == total and reads > 10

    with path.open("a") as fh:
        fh.write('{"step": 400, "lo')
    assert len(runs.read_metrics(tmp_path)) == total  # the partial last line is skipped, not an error


def _fake_checkpoint(run_dir: Path, step: int, complete: bool = True) -> Path:
    ckpt = run_dir / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "adapter_model.safetensors").write_bytes(os.urandom(4096))
    (ckpt / "optimizer.pt").write_bytes(os.urandom(8192))
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if complete:
        write_checkpoint_marker(ckpt, step)
    return ckpt


def test_half_written_or_truncated_checkpoints_are_never_picked(tmp_path):
    run_dir = tmp_path / "run"
    ok = _fake_checkpoint(run_dir, 10)
    truncated = _fake_checkpoint(run_dir, 20)
    unmarked = _fake_checkpoint(run_dir, 30, complete=False)
    with open(truncated / "optimizer.pt", "r+b") as fh:
        fh.truncate(100)
    assert runs.checkpoint_is_complete(ok)
    assert not runs.checkpoint_is_complete(truncated) and not runs.checkpoint_is_complete(unmarked)
    assert runs.last_complete_checkpoint(run_dir) == ok

    lines = [json.dumps({"step": s, "loss": 1.0}) for s in range(1, 26)]
    (run_dir / runs.METRICS_FILE).write_text("\n".join(lines) + '\n{"step": 26, "lo')
    assert prepare_resume(run_dir) == ok
    assert runs.checkpoints(run_dir) == [ok]  # the broken ones are cleared before training
    assert [r["step"] for r in runs.read_metrics(run_dir)] == list(range(1, 11))


def test_registry_lists_every_run_after_a_restart(tiny_model_dir, sft_file, device_busy):
    started = [runs.start_run(run_config(tiny_model_dir, sft_file, name=f"run{i}")) for i in range(3)]
    assert [r.state for r in started] == ["queued"] * 3
    cancelled = runs.stop_run(started[1].id)
    assert cancelled.state == "stopped"

    # A fresh process (a restarted app or CLI) sees every run, newest first.
    out = subprocess.run([sys.executable, "-m", "studio", "runs", "--json"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    listed = json.loads(out)
    assert [r["id"] for r in listed] == [r.id for r in reversed(started)]
    assert [r["state"] for r in listed] == ["queued", "stopped", "queued"]
    assert runs.get_run(started[0].dir).id == started[0].id  # a folder path works as well as an id


def test_queue_is_first_in_first_out_and_a_dead_worker_is_noticed(tiny_model_dir, sft_file, monkeypatch):
    launched = []

    def fake_launch(run_dir, device_fd, run_fd):  # no real worker: record the order, claim the run
        launched.append(run_dir.name)
        runs.update_status(run_dir, only_if=("queued",), state="running", pid=os.getpid())

    monkeypatch.setattr(runs.registry, "_launch", fake_launch)
    device = runs.files.try_lock(runs.device_lock_path())
    first, second, third = (runs.start_run(run_config(tiny_model_dir, sft_file,
                                                      name=f"q{i}")) for i in range(3))
    runs.stop_run(second.id)  # a cancelled queued run is skipped
    assert launched == []
    os.close(device)  # the training that held the device ends

    # Reading the runs (the UI polls them every second) neither starts a queued run nor marks one dead.
    before = {r.id: r.state for r in runs.list_runs()}
    assert runs.get_run(first.id).state == "queued" and launched == []
    assert {r.id: r.state for r in runs.list_runs()} == before
    runs.reconcile()
    assert launched == [first.id]
    assert runs.get_run(first.id).state == "running"  # its "worker" holds no lock, but nobody reconciled yet
    # The next reconcile finds it dead and moves on.
    runs.reconcile()
    infos = {r.id: r for r in runs.list_runs()}
    assert infos[first.id].state == "failed" and infos[first.id].message == runs.DIED
    assert launched == [first.id, third.id]
    assert infos[second.id].state == "stopped"


def test_two_workers_never_write_one_folder(tiny_model_dir, sft_file):
    info = queued_run(run_config(tiny_model_dir, sft_file))
    before = runs.read_status(info.dir)
    held = runs.files.try_lock(info.dir / runs.RUN_LOCK)
    try:
        assert worker.main([str(info.dir)], in_process=True) == worker.BUSY_EXIT
    finally:
        os.close(held)
    assert runs.read_status(info.dir) == before
    with pytest.raises(runs.RunError, match="already holds a run"):
        cfg = run_config(tiny_model_dir, sft_file)
        cfg.output.dir = str(info.dir)
        runs.start_run(cfg)


def test_failure_sentences():
    import torch

    from studio.data.layouts.normalise import DataError

    assert worker.failure_sentence(DataError("The data file x does not exist; check the path."), 0, True) == (
        "The data file x does not exist; check the path.")
    oom = worker.failure_sentence(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), 7,
                                  False)
    assert oom.startswith("Ran out of memory at step 7") and "smaller batch" in oom and "QLoRA" in oom
    full = worker.failure_sentence(OSError(errno.ENOSPC, "No space left on device"), 3, False)
    assert "disk is full" in full and "resume" in full
    other = worker.failure_sentence(KeyError("messages"), 0, True)
    assert other.startswith("Preparing the run failed (KeyError") and "\n" not in other


def test_not_enough_disk_is_refused_before_training(tiny_model_dir, sft_file, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    info = queued_run(run_config(tiny_model_dir, sft_file))
    assert worker.main([str(info.dir)], in_process=True) == 1
    status = runs.read_status(info.dir)
    assert status["state"] == "failed" and status["message"].startswith("Not enough free disk space")
    assert not runs.checkpoints(info.dir)


def test_disk_full_mid_run_keeps_the_previous_checkpoint_and_resumes(tiny_model_dir, sft_file, monkeypatch,
                                                                     capsys):
    from transformers import Trainer

    original = Trainer._save_checkpoint

    def failing_save(self, model, trial):
        if self.state.global_step == 4:  # the disk fills up while checkpoint-4 is half written
            ckpt = Path(self.args.output_dir) / "checkpoint-4"
            ckpt.mkdir()
            (ckpt / "adapter_model.safetensors").write_bytes(b"\0" * 100)
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, model, trial)

    monkeypatch.setattr(Trainer, "_save_checkpoint", failing_save)
    info = queued_run(run_config(tiny_model_dir, sft_file, steps=6, save_steps=2))
    assert worker.main([str(info.dir)], in_process=True) == 1
    status = runs.read_status(info.dir)
    assert status["state"] == "failed" and "disk is full" in status["message"]
    assert runs.checkpoint_is_complete(info.dir / "checkpoint-2")
    assert not runs.checkpoint_is_complete(info.dir / "checkpoint-4")

    monkeypatch.setattr(Trainer, "_save_checkpoint", original)
    fd = runs.files.try_lock(runs.device_lock_path())  # keep it queued: this test runs the worker itself
    try:
        assert runs.resume_run(info.id).message == "Queued to resume from checkpoint-2."
    finally:
        os.close(fd)
    capsys.readouterr()
    assert worker.main([str(info.dir)], in_process=True) == 0
    assert "Resuming from checkpoint-2." in capsys.readouterr().err
    status = runs.read_status(info.dir)
    assert status["state"] == "completed" and status["step"] == 6
    assert [r["step"] for r in runs.read_metrics(info.dir) if "loss" in r] == [1, 2, 3, 4, 5, 6]


def test_out_of_memory_ends_failed_with_advice_and_resumes_with_less(tiny_model_dir, sft_file, monkeypatch):
    import torch
    from trl import SFTTrainer

    original = SFTTrainer.training_step

    def oom_at_step_2(self, *args, **kwargs):  # a real OOM cannot be provoked safely on a shared machine
        if self.state.global_step == 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SFTTrainer, "training_step", oom_at_step_2)
    info = queued_run(run_config(tiny_model_dir, sft_file, steps=6, save_steps=1))
    assert worker.main([str(info.dir)], in_process=True) == 1
    status = runs.read_status(info.dir)
    assert status["state"] == "failed"
    fix = "training.batch_size=1 training.gradient_accumulation=2"
    assert status["message"].startswith("Ran out of memory at step 2; resume it with settings that need "
                                        "less "
                                        "(it continues from its last checkpoint), e.g. `studio resume "
                                        f"{info.id} {fix}`")
    monkeypatch.setattr(SFTTrainer, "training_step", original)
    fd = runs.files.try_lock(runs.device_lock_path())  # queue it, and train it here
    try:
        runs.resume_run(info.id, fix.split())
    finally:
        os.close(fd)
    assert worker.main([str(info.dir)], in_process=True) == 0
    status = runs.read_status(info.dir)
    assert status["state"] == "completed" and status["step"] == 6
    saved = RunConfig.from_yaml(info.dir / runs.CONFIG_FILE).training
    assert (saved.batch_size, saved.gradient_accumulation) == (1, 2)


def test_processes_follow_the_config_and_the_gpus(tiny_model_dir, sft_file):
    from studio.errors import StudioError

    cfg = run_config(tiny_model_dir, sft_file)
    assert worker.processes_for(cfg, 0) == 1 and worker.processes_for(cfg, 1) == 1
    assert worker.processes_for(cfg, 4) == 4  # 0 means one per GPU
    cfg.training.device = "cpu"
    assert worker.processes_for(cfg, 4) == 1
    cfg.distributed.processes = 3
    assert worker.processes_for(cfg, 0) == 3  # CPU processes (gloo)
    cfg.training.device = "auto"
    with pytest.raises(StudioError, match="asks for 3 processes and this machine has 2 GPUs"):
        worker.processes_for(cfg, 2)
    text = worker.accelerate_config(2, 29555)
    assert "distributed_type: MULTI_GPU" in text and "num_processes: 2" in text and ("main_process_port: "
                                                                                     "29555") in text


def test_crashing_ranks_end_the_run_failed_with_rank_0s_sentence(tiny_model_dir, tmp_path):
    cfg = run_config(tiny_model_dir, tmp_path / "missing.jsonl")
    cfg.distributed.processes = 2
    info = queued_run(cfg)
    assert worker.main([str(info.dir)], in_process=True) != 0
    status = runs.read_status(info.dir)
    assert status["state"] == "failed" and "missing.jsonl" in status["message"], status
    assert "accelerate.commands.launch --config_file" in status["command"]


def test_a_rank_that_fails_first_names_the_problem_though_rank_0_was_ended_before_it_could(
        tiny_model_dir, tmp_path, monkeypatch):
    from studio.data.layouts.normalise import DataError

    """torchrun ends every rank when one fails; rank 0, the only one writing status, may be ended before
    it meets the same error (seen in a full run: rank 1 read the missing file first). The supervisor then
    takes the sentence of the first rank that failed, and names the exit code only when none said why."""
    from studio.runs import files

    for said_by_rank_1 in (True, False):
        info = queued_run(run_config(tiny_model_dir, tmp_path / "missing.jsonl",
                                     name=f"ranks-{said_by_rank_1}"))
        files.update_status(info.dir, state="running")
        if said_by_rank_1:
            monkeypatch.setenv("RANK", "1")
            monkeypatch.setenv("WORLD_SIZE", "2")
            rank_1 = worker._Worker(info.dir, main=False)
            sentence = rank_1.failed_sentence(DataError("The data file missing.jsonl does not exist."), 0,
                                              None, "r")
            rank_1.finish("failed", sentence)
            assert runs.read_status(info.dir)["state"] == "running"  # an extra rank writes no status
        worker.end_of_ranks(info.dir, 1)
        status = runs.read_status(info.dir)
        expected = ("The data file missing.jsonl does not exist." if said_by_rank_1
                    else "The training processes ended with exit code 1; the log has the details.")
        assert status["state"] == "failed" and status["message"] == expected, status


# What gloo said in rank 0 when rank 1 died while the run was prepared (issue 37, copied from the run's log).
GLOO_PEER_GONE = ("[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection closed "
                  "by peer "
                  "[127.0.0.1]:2453. This is typically caused by a remote worker crashing. Check the logs of "
                  "the "
                  "remote worker before reporting an error. GLHF!")
RANK_1_CAUSE = FileNotFoundError(2, "Failed to open local file "
                                    "'/tmp/hf_datasets-exoid3r5/cache-d754640246dff5b5.arrow'")


def test_a_rank_that_lost_its_peer_ends_the_run_with_the_peers_own_cause(tiny_model_dir, sft_file,
                                                                         monkeypatch):
    """Rank 1 fails on its own (a missing cache file), rank 0 only loses its gloo peer: the run's sentence is
    rank 1's cause, whether it was written before rank 0 gave up waiting for it or only after."""
    from studio.runs import ranks

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(ranks, "CAUSE_WAIT_S", 0.3)
    for cause_first in (True, False):
        info = queued_run(run_config(tiny_model_dir, sft_file, name=f"lost-{cause_first}"))
        runs.update_status(info.dir, state="running")
        rank_0, rank_1 = worker._Worker(info.dir), worker._Worker(info.dir, main=False)

        def rank_1_fails(rank_1=rank_1):
            monkeypatch.setenv("RANK", "1")
            rank_1.finish("failed", rank_1.failed_sentence(RANK_1_CAUSE, 0, None, "r"))
        if cause_first:
            rank_1_fails()
        monkeypatch.setenv("RANK", "0")
        rank_0.finish("failed", rank_0.failed_sentence(RuntimeError(GLOO_PEER_GONE), 0, None, "r"))
        said = runs.read_status(info.dir)["message"]
        if not cause_first:  # rank 0 waited in vain, said so, and the supervisor puts the cause in its place
            assert said.startswith("Training process 1 of 2 lost contact with another one")
            assert "Connection closed by peer" in said
            rank_1_fails()
            worker.end_of_ranks(info.dir, 1)
        status = runs.read_status(info.dir)
        assert status["state"] == "failed" and status["message"] == (
            "Preparing the run failed in training process 2 of 2 (FileNotFoundError: [Errno 2] Failed to "
            "open local file '/tmp/hf_datasets-exoid3r5/cache-d754640246dff5b5.arrow'); the log has the "
            "details."), status
        assert "model name" not in status["message"]


def test_status_json_is_typed_and_has_one_writer(tmp_path):
    import re

    from studio.runs.files import STATUS_FIELDS, RunStatus

    runs.update_status(tmp_path, new=True, state="running", phase="training", rows_done=3)
    assert set(runs.read_status(tmp_path)) == STATUS_FIELDS  # every declared field, nothing else
    with pytest.raises(TypeError, match="no field progress; declare it in RunStatus"):
        runs.update_status(tmp_path, progress=0.5)
    assert runs.update_status(tmp_path, only_if=("queued",), state="stopped") is None  # it is running
    assert RunStatus.from_dict({"state": "failed", "from_an_older_version": 1}).state == "failed"
    # No module but runs/files.py writes status.json itself.
    writes = re.compile(r"(atomic_write|write_text|open)\([^)]*(STATUS_FILE|status\.json)")
    studio = Path(__file__).resolve().parent.parent / "studio"
    writers = [p.relative_to(studio).as_posix() for p in studio.rglob("*.py") if writes.search(p.read_text())]
    assert writers == ["runs/files.py"]
