"""A run whose training process the system kills ends `failed` with one sentence naming the signal, never
`running` forever; a real out-of-memory kill (the kernel's, in a memory-limited cgroup) gets the resume
command with settings that need less. (SIGKILL during training: tests/test_runs.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio import runs
from studio.config import RunConfig
from studio.runs import endings

ROOT = Path(__file__).resolve().parent.parent


def queued_run(model_dir, data_file) -> runs.RunInfo:
    cfg = RunConfig.from_dict({
        "method": "sft", "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8},
        "training": {"max_steps": 50, "batch_size": 4, "max_length": 512},
        "output": {"name": "oom"},
    })
    fd = runs.files.try_lock(runs.device_lock_path())  # queued: this test starts the worker itself
    try:
        return runs.start_run(cfg)
    finally:
        os.close(fd)


def memory_cgroup(limit: int) -> Path:
    """A v1 or v2 memory cgroup beside this process's own, limited to ``limit`` bytes (needs root)."""
    for parent in endings._memory_cgroups():
        limit_file = "memory.limit_in_bytes" if (parent / "memory.limit_in_bytes").exists() else "memory.max"
        group = parent / f"studio-test-{os.getpid()}"
        try:
            group.mkdir(exist_ok=True)
            (group / limit_file).write_text(str(limit))
            return group
        except OSError:
            continue
    pytest.skip("this machine lets no test process create a memory cgroup (needs root and cgroup access)")


def test_signal_names_and_sentences():
    assert endings.signal_name(signal.SIGKILL) == "SIGKILL"
    assert endings.killed_sentence(signal.SIGSEGV, 3) == (
        "The training process crashed with SIGSEGV at step 3, not by the studio; resume the run to continue "
        "from its last complete checkpoint.")
    # only SIGKILL is the OOM killer's
    assert not endings.looks_like_oom(signal.SIGTERM, os.getpid(), 0, 10**12)


def test_kernel_oom_kill_ends_failed_with_resume_command(tiny_model_dir, sft_file):
    info = queued_run(tiny_model_dir, sft_file)
    group = memory_cgroup(150 * 2**20)  # the supervisor needs ~20 MB; the trainer's torch alone needs more
    try:
        with open(info.dir / "log.txt", "ab") as log:  # as the registry starts a worker
            done = subprocess.run(
                [sys.executable, "-m", "studio.runs.worker", str(info.dir)], check=False, cwd=ROOT,
                timeout=120,
                preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
                env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=log, stderr=subprocess.STDOUT)
    finally:
        subprocess.run(["sh", "-c", f"cat {group}/cgroup.procs | xargs -r kill -9"], check=False)
        group.rmdir()
    assert done.returncode == 1
    status = runs.read_status(info.dir)
    assert status["state"] == "failed"
    assert status["message"].startswith("The system's out-of-memory killer ended the training (SIGKILL). "
                                        "Ran out of memory at step 0;"), status["message"]
    way_on = f"`studio resume {info.id} training.batch_size=2 training.gradient_accumulation="
    assert way_on in status["message"]
    assert "training.max_length=256" in status["message"]
    assert "killed by SIGKILL" in (info.dir / "log.txt").read_text()
