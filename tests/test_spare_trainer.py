"""The spare trainer (studio.runs.spare_trainer): a run's trainer forked from a process that imported the
training stack once trains exactly what a cold one trains, is waited for as a child is, and dies with its
supervisor."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from test_runs import adapter_tensors, final, last_step, run_config, wait_for

from studio import runs
from studio.runs import spare_trainer

pytestmark = pytest.mark.skipif(
    not spare_trainer.enabled(dict(os.environ)),
    reason="the spare trainer is off here (not Linux, a GPU device, or switched off)")


def _trainer_env() -> dict:
    """The environment a supervising worker gives its trainer when started by this process's registry."""
    from studio.paths import PROJECT_ROOT

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get(
        "PYTHONPATH")) if p), PYTHONUNBUFFERED="1", PYTHONSAFEPATH="1")
    return env


def _spare_answers() -> bool:
    path = spare_trainer.socket_path(_trainer_env())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            conn.connect(str(path))
            return True
        except OSError:
            return False


def _how_started(run_dir: Path) -> str:
    return "forked" if "forked from the spare trainer" in runs.tail_log(run_dir, 400) else "cold"


def _supervisor_of(run_dir: Path) -> int:
    """The supervising worker of a run: the process running the worker module on that folder."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"studio.runs.worker" in cmdline and str(run_dir).encode() in cmdline:
            return int(proc.name)
    raise AssertionError(f"no supervising worker for {run_dir}")


def test_a_forked_trainer_trains_what_a_cold_one_trains(tiny_model_dir, sft_file):
    cold = final(runs.start_run(run_config(tiny_model_dir, sft_file, name="cold", steps=3, save_steps=3)).id)
    assert cold.state == "completed", cold.message
    wait_for(_spare_answers, timeout=240, every=0.5)  # the first run started one; it imports once
    warm = run_config(tiny_model_dir, sft_file, name="warm", steps=3, save_steps=3)
    forked = final(runs.start_run(warm).id)
    assert forked.state == "completed", forked.message
    assert _how_started(forked.dir) == "forked", runs.tail_log(forked.dir, 40)
    a, b = adapter_tensors(cold.dir / "adapter"), adapter_tensors(forked.dir / "adapter")
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max().item() <= 1e-6 for k in a)
    assert [r["step"] for r in runs.read_metrics(forked.dir) if "loss" in r] == [1, 2, 3]


def test_a_forked_trainer_dies_with_its_supervisor_and_the_run_ends_failed(tiny_model_dir, sft_file):
    if not _spare_answers():
        final(runs.start_run(run_config(tiny_model_dir, sft_file, name="first", steps=1, save_steps=1)).id)
        wait_for(_spare_answers, timeout=240, every=0.5)
    info = runs.start_run(run_config(tiny_model_dir, sft_file, name="endless", steps=5000, save_steps=5000))
    wait_for(lambda: last_step(info.dir) >= 1)
    assert _how_started(info.dir) == "forked"
    trainer = runs.read_status(info.dir)["pid"]
    os.kill(_supervisor_of(info.dir), signal.SIGKILL)
    deadline = time.time() + 20
    while time.time() < deadline and runs.process_start_time(trainer) is not None:
        time.sleep(0.1)
    assert runs.process_start_time(trainer) is None, "the forked trainer outlived its supervisor"
    runs.reconcile()  # what the app's next poll does: the folder's lock is free, so the run died
    assert runs.get_run(info.id).state == "failed"
