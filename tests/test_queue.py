"""The queue, proven with real processes and the tiny model: concurrent starts, and an app restart.

A worker killed by the system and a checkpoint cut short while writing are proven in test_runs.py
(test_sigkill_then_resume_equals_uninterrupted_run) and test_runs_files.py
(test_half_written_or_truncated_checkpoints_are_never_picked).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from studio import runs
from studio.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent


def recipe(tmp_path: Path, model_dir: Path, data_file: Path, name: str, steps: int = 2) -> Path:
    path = tmp_path / f"{name}.yaml"
    RunConfig.from_dict({
        "method": "sft",
        "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8},
        "training": {"learning_rate": 1e-2, "max_steps": steps, "batch_size": 2, "max_length": 64,
                     "save_steps": 100},
        "output": {"name": name},
    }).save(path)
    return path


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_three_trains_started_in_one_second_all_complete_one_at_a_time_oldest_first(
        tiny_model_dir, sft_file, tmp_path):
    names = ["first", "second", "third"]
    procs = []
    for name in names:  # three shells, within the same second
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "studio", "train", str(recipe(tmp_path, tiny_model_dir, sft_file, name))],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        time.sleep(0.05)
    try:
        outputs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0, 0]

    listed = {r.name: r for r in runs.list_runs()}
    assert sorted(listed) == sorted(names)  # none lost, none doubled
    statuses = [runs.read_status(listed[n].dir) for n in names]
    for name, status, out in zip(names, statuses, outputs):
        assert status["state"] == "completed" and status["step"] == 2, (name, status)
        assert out.strip().splitlines()[-1] == str(listed[name].dir)
        log = runs.tail_log(listed[name].dir, 1000)
        assert log.count("[studio] worker ") == 1, f"{name} was started more than once:\n{log}"
        assert [r["step"] for r in runs.read_metrics(listed[name].dir) if "loss" in r] == [1, 2]
    # Oldest first, one at a time: each starts after the one queued before it has finished. (The queue's
    # order is queued_at: three shells 50 ms apart on a busy machine may reach it in another order.)
    queue = sorted(statuses, key=lambda status: status["queued_at"])
    assert len({status["queued_at"] for status in queue}) == 3
    for earlier, later in itertools.pairwise(queue):
        assert earlier["finished"] <= later["started"] + 0.5, (earlier, later)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_app(log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "studio", "app", "--port", str(_free_port())],
                                cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def test_runs_queued_when_the_app_is_killed_run_after_it_restarts_without_a_click(
        tiny_model_dir, sft_file, tmp_path):
    from studio.runs.files import device_lock_path, try_lock

    # Something holds the device (a training that is then killed with the app): the run waits.
    runs_dir = runs.runs_dir()
    device = try_lock(device_lock_path())
    assert device is not None
    queued = runs.start_run(RunConfig.from_yaml(recipe(tmp_path, tiny_model_dir, sft_file, "waiting")))
    assert queued.state == "queued"
    log = tmp_path / "app.log"
    app = _start_app(log)
    try:
        wait_for(lambda: "Studio app on http" in log.read_text(errors="replace"), 120, "the app to start")
        os.killpg(app.pid, signal.SIGKILL)  # the app dies: no clean shutdown, no hand-over
        app.wait(timeout=30)
        assert runs.read_status(queued.dir)["state"] == "queued"
        os.close(device)  # the device is free now, and nobody is watching the queue

        app = _start_app(log)  # the app comes back; nobody opens a page or clicks anything
        done = wait_for(lambda: runs.read_status(queued.dir).get("state") in runs.FINAL_STATES
                        and runs.read_status(queued.dir), 180, "the queued run to finish")
        assert done["state"] == "completed" and done["step"] == 2, done
        assert queued.dir.parent == runs_dir.resolve()
    finally:
        try:
            os.killpg(app.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        app.wait(timeout=30)
