"""Slurm for real: a one-machine cluster (tests/slurm/start_cluster.sh: Debian's slurm-wlm and munge)
runs a 2-step run submitted with `studio train --slurm` and a 2-trial sweep submitted as a job array.
Skipped, with the reason, only where the packages cannot be installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_runs import no_stray_workers, run_config, wait_for  # noqa: F401 - fixture

from studio import runs
from studio.cluster.commands import follow_slurm_runs
from studio.sweeps.study import load_result

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(ROOT / "tests/slurm/start_cluster.sh"), str(folder)],
                             capture_output=True, text=True, timeout=600, check=False)
    if started.returncode == 3:
        print(f"Slurm tests skipped: {started.stdout.strip()}")
        pytest.skip(f"Slurm cannot be installed here: {started.stdout.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    conf = str(folder / "slurm.conf")
    yield conf
    subprocess.run(["scontrol", "shutdown"], env={**os.environ, "SLURM_CONF": conf}, capture_output=True,
                   check=False)


def squeue_state(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True,
                          check=False).stdout.strip()


def studio(*args, conf) -> subprocess.CompletedProcess:
    env = {**os.environ, "SLURM_CONF": conf, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_run_and_sweep_array_on_a_slurm_cluster(slurm_cluster, tiny_model_dir, sft_file, tmp_path,
                                                monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm_cluster)
    cfg = run_config(tiny_model_dir, sft_file, name="on-slurm", steps=2, save_steps=2)
    recipe = tmp_path / "recipe.yaml"
    cfg.save(recipe)
    raw = yaml.safe_load(recipe.read_text())
    raw["data"]["eval_fraction"], raw["training"]["eval_steps"] = 0.25, 2
    raw["sweep"] = {"name": "slurm-rates", "grid": {"training.learning_rate": [1e-3, 3e-2]}}
    sweep_recipe = tmp_path / "sweep.yaml"
    sweep_recipe.write_text(yaml.safe_dump(raw))

    written = Path(studio("train", str(recipe), "--slurm", "--no-submit", "--time", "00:10:00",
                          conf=slurm_cluster).stdout.strip())
    script = (written / "slurm.sbatch").read_text()
    for line in ("#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1", "#SBATCH --requeue",
                 "#SBATCH --time=00:10:00",
                 "srun --kill-on-bad-exit=1", 'scontrol show hostnames "$SLURM_JOB_NODELIST"',
                 "$SLURM_NODEID"):
        assert line in script
    assert runs.get_run(written.name).state == "queued"
    runs.reconcile()  # a local pass must never start a run that waits for Slurm
    assert runs.get_run(written.name).state == "queued"

    run_dir = Path(studio("train", str(recipe), "--slurm", conf=slurm_cluster).stdout.strip())
    arrayed = json.loads(studio("sweep", str(sweep_recipe), "--slurm", "--parallel", "2", "--json",
                                conf=slurm_cluster).stdout)
    job = runs.read_status(run_dir)["slurm_job"]
    assert job.isdigit() and arrayed["job"].isdigit() and arrayed["trials"] == 2

    # Three tasks on two cores: a fourth job waits in the queue, and `studio stop` takes it out.
    waiting = Path(studio("train", str(recipe), "--slurm", conf=slurm_cluster).stdout.strip())
    waiting_job = runs.read_status(waiting)["slurm_job"]
    assert squeue_state(waiting_job) == "PENDING"
    studio("stop", waiting.name, conf=slurm_cluster)
    assert runs.get_run(waiting.name).state == "stopped" and squeue_state(waiting_job) == ""
    refused = subprocess.run([sys.executable, "-m", "studio", "train", str(recipe), "--slurm", "--partition",
                              "nope"],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                             text=True,
                             timeout=120, check=False)
    assert refused.returncode == 2 and "Slurm refused the job" in refused.stderr
    assert "Traceback" not in refused.stderr

    def settled():
        # what `studio runs` does: a job gone from the queue with its run unfinished fails
        follow_slurm_runs()
        return runs.get_run(run_dir.name).state in runs.FINAL_STATES
    wait_for(settled, timeout=400, every=1.0)
    info = runs.get_run(run_dir.name)
    assert info.state == "completed" and info.step == 2, (info.message, runs.tail_log(run_dir, 30))
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    assert (run_dir / f"slurm-{job}.out").is_file()

    def swept():
        result = load_result("slurm-rates") or {"trials": []}
        return len([t for t in result["trials"] if t["state"] == "complete"]) == 2 and result
    wait_for(swept, timeout=400, every=1.0)
    deadline = time.time() + 60
    while subprocess.run(["squeue", "-h", "-j", arrayed["job"]], capture_output=True, text=True,
                         check=False).stdout.strip():
        assert time.time() < deadline, "the array's tasks did not leave the queue"
        time.sleep(0.5)
    # collects, starts none
    result = json.loads(studio("sweep", str(sweep_recipe), "--json", conf=slurm_cluster).stdout)
    figures = {t["run"]: t["metric"] for t in result["trials"]}
    assert len(figures) == 2 and result["best"] == min(figures, key=figures.get)
    assert {runs.read_status(runs.resolve_run(r))["sweep"] for r in figures} == {"slurm-rates"}
