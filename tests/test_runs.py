"""Runs in real worker processes on a tiny local model: stop, SIGKILL and resume, queue, failures, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from stray_workers import kill_workers, live_workers

from studio import runs
from studio.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent


def run_config(model_dir, data_file, *, name, steps, save_steps, method="sft", **training) -> RunConfig:
    return RunConfig.from_dict({
        "method": method,
        "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.05},
        "training": {"learning_rate": 1e-2, "max_steps": steps, "batch_size": 2, "max_length": 64,
                     "save_steps": save_steps, "seed": 7, **training},
        "output": {"name": name},
    })


def wait_for(predicate, timeout=90.0, every=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def final(run_id, timeout=90.0) -> runs.RunInfo:
    return wait_for(lambda: (i := runs.get_run(run_id)).state in runs.FINAL_STATES and i, timeout, 0.1)


def last_step(run_dir) -> int:
    return max((r["step"] for r in runs.read_metrics(run_dir) if "loss" in r), default=0)


def adapter_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "adapter_model.safetensors")


@pytest.fixture(autouse=True)
def no_stray_workers(studio_home):
    """Kill any worker a failing test left behind (by pid, start time and command line)."""
    yield
    kill_workers(studio_home)


def test_cleanup_finds_the_real_worker_and_only_it(tiny_model_dir, sft_file, studio_home, tmp_path):
    info = runs.start_run(run_config(tiny_model_dir, sft_file, name="endless", steps=5000, save_steps=5000))
    wait_for(lambda: last_step(info.dir) >= 1)
    trainer = runs.read_status(info.dir)["pid"]
    assert live_workers(studio_home) == [trainer]
    assert live_workers(tmp_path / "another-home") == []  # another session's runs are not ours to kill
    assert kill_workers(studio_home) == [trainer]
    dead = wait_for(lambda: (i := runs.get_run(info.id)).state == "failed" and i, timeout=20)
    assert "SIGKILL" in dead.message and live_workers(studio_home) == []


def test_stop_saves_loadable_adapter_and_second_start_is_queued(tiny_model_dir, sft_file):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    first = runs.start_run(run_config(tiny_model_dir, sft_file, name="long", steps=2000, save_steps=2000))
    second = runs.start_run(run_config(tiny_model_dir, sft_file, name="short", steps=3, save_steps=100))
    assert first.state == "running"
    assert second.state == "queued"  # one training per device: first in, first out

    wait_for(lambda: last_step(first.dir) >= 5)
    before = last_step(first.dir)
    subprocess.run([sys.executable, "-m", "studio", "stop", first.id], cwd=ROOT, check=True)
    asked = last_step(first.dir)  # the request is on disk now
    stopped = final(first.id)
    assert stopped.state == "stopped", stopped.message
    assert before < stopped.step <= asked + 2  # at most the step in flight, then save and end
    ckpt = first.dir / f"checkpoint-{stopped.step}"
    assert runs.checkpoint_is_complete(ckpt)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                      first.dir / "adapter")
    lora_b = [v for k, v in model.state_dict().items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)
    for key, value in adapter_tensors(ckpt).items():  # the adapter is the stop step's weights
        assert torch.equal(value, adapter_tensors(first.dir / "adapter")[key])

    done = final(second.id)  # the stopping worker handed the device to the queued run
    assert done.state == "completed" and done.step == 3, done.message


def test_sigkill_then_resume_equals_uninterrupted_run(tiny_model_dir, sft_file, tmp_path):
    from studio.training.train import train

    steps = 40  # the kill comes after checkpoint 20, with 20 steps to spare: twice trained, so not more
    reference_dir = tmp_path / "reference"
    cfg = run_config(tiny_model_dir, sft_file, name="killed", steps=steps, save_steps=10)
    info = runs.start_run(cfg)

    wait_for(lambda: runs.checkpoint_is_complete(info.dir / "checkpoint-20"))
    status = runs.read_status(info.dir)
    assert runs.process_start_time(status["pid"]) == status["pid_start"]
    os.kill(status["pid"], signal.SIGKILL)
    killed_at = last_step(info.dir)
    assert 20 <= killed_at < steps

    dead = wait_for(lambda: (i := runs.get_run(info.id)).state == "failed" and i, timeout=10)
    # The supervising worker outlives its trainer and names the signal, with the way on.
    assert dead.message.startswith("The training process was killed by SIGKILL at step "), dead.message
    assert "resume the run" in dead.message
    assert runs.read_status(info.dir)["log_tail"]

    # Damage the newest complete checkpoint: resume must fall back to the one before.
    newest = runs.last_complete_checkpoint(info.dir)
    older = [c for c in runs.checkpoints(info.dir) if runs.checkpoint_is_complete(c) and c != newest][-1]
    weights = newest / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    from studio.cli import main

    assert main(["resume", info.id]) == 0
    done = final(info.id)
    assert done.state == "completed" and done.step == steps, done.message
    assert f"Resuming from {older.name}." in runs.tail_log(info.dir, 400)

    # The curve continues: each step logged exactly once, in order, across the kill.
    logged = [r["step"] for r in runs.read_metrics(info.dir) if "loss" in r]
    assert logged == list(range(1, steps + 1))

    # Same seed, no interruption, in this process: the adapter must match.
    cfg.output.dir = str(reference_dir)
    train(cfg, reference_dir)
    resumed, reference = adapter_tensors(info.dir / "adapter"), adapter_tensors(reference_dir / "adapter")
    assert resumed.keys() == reference.keys()
    worst = max((resumed[k] - reference[k]).abs().max().item() for k in reference)
    assert worst <= 1e-5, worst


def test_crashing_worker_ends_failed_with_its_sentence(sft_file, tmp_path):
    info = runs.start_run(run_config(tmp_path / "no-such-model", sft_file, name="broken", steps=3,
                                     save_steps=10))
    failed = final(info.id)
    assert failed.state == "failed"
    assert failed.message == f"The model folder {tmp_path / 'no-such-model'} does not exist; check the path."
    assert "Traceback" in runs.tail_log(failed.dir, 200)  # the traceback is in the log, not the sentence
    assert "ModelError" in runs.read_status(failed.dir)["log_tail"]


def test_cli_train_ctrl_c_stops_and_saves(tiny_model_dir, sft_file, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    run_config(tiny_model_dir, sft_file, name="cli", steps=2000, save_steps=2000).save(recipe)
    # Ctrl-C as a terminal sends it. A suite started in the background by a shell without job control
    # inherits SIGINT ignored (as `cmd &` does), which the CLI would inherit too: it is the default here.
    proc = subprocess.Popen([sys.executable, "-m", "studio", "train", str(recipe)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509
    try:
        run_dir = wait_for(lambda: next(iter(runs.runs_dir().glob("*-cli")), None))
        wait_for(lambda: last_step(run_dir) >= 3)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert out.strip().splitlines()[-1] == str(run_dir)
    status = runs.read_status(run_dir)
    assert status["state"] == "stopped" and (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    listed = json.loads(subprocess.run([sys.executable, "-m", "studio", "runs", "--json"], cwd=ROOT,
                                       capture_output=True, text=True, check=True).stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(run_dir.name, "stopped")]
