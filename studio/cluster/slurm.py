"""Runs and sweeps on a Slurm cluster: RUN/slurm.sbatch written, submitted with sbatch, followed, cancelled.

The script follows the alignment-handbook's: one task per node, `srun --kill-on-bad-exit`, the main
address from the first host of the allocation, each node's rank from Slurm's own variables, and
`--requeue` (a requeued job's worker resumes from the last complete checkpoint, as every worker does).
The run folder lives on the disk the cluster shares; its status.json carries the job id, so `studio runs`
and the app follow the run through the folder and the queue (squeue, then sacct), and `studio stop`
saves a running job or cancels a waiting one. A sweep on Slurm is a job array: each task is a
controller that runs one trial of the shared study (studio.sweeps).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from studio.errors import StudioError
from studio.paths import PROJECT_ROOT, studio_home
from studio.runs import files
from studio.runs.files import SLURM_SCRIPT as SCRIPT
from studio.runs.launcher import MAIN_ENV, NODE_RANK_ENV

MAIN_PORT = 29500
SLURM_MAIN = f"first-node-of-the-job:{MAIN_PORT}"  # replaced per job by STUDIO_MAIN from the allocation


class SlurmError(StudioError):
    """Slurm missing, refusing a job, or a job that cannot be followed."""


def header(name: str, nodes: int, options, output: str, array: str | None = None) -> list[str]:
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --nodes={nodes}",
             "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --output={output}", "#SBATCH --open-mode=append", "#SBATCH --requeue"]
    if array:
        lines.append(f"#SBATCH --array={array}")
    for flag, value in (("gpus-per-node", options.gpus_per_node), ("partition", options.partition),
                        ("time", options.time), ("account", options.account)):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    return [*lines, "set -euo pipefail", f"cd {shlex.quote(os.getcwd())}",
            f"export STUDIO_HOME={shlex.quote(str(studio_home()))}",
            f"export PYTHONPATH={shlex.quote(str(PROJECT_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}",
            # The device is Slurm's to share out: a lock per job, not one for the whole shared home.
            'export STUDIO_DEVICE_LOCK="/tmp/studio-device-${SLURM_JOB_ID}.lock"']


def run_script(run_dir: Path, nodes: int, options) -> str:
    """The sbatch script of one run: one task per node, each node's worker told its rank and node 0."""
    worker = f"{shlex.quote(sys.executable)} -m studio.runs.worker {shlex.quote(str(run_dir))}"
    lines = header(f"studio-{run_dir.name}", nodes, options, str(run_dir / "slurm-%j.out"))
    lines += ['MAIN_HOST=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
              f'export {MAIN_ENV}="$MAIN_HOST:{MAIN_PORT}"',
              (f"srun --kill-on-bad-exit=1 --ntasks-per-node=1 bash -c '{NODE_RANK_ENV}=$SLURM_NODEID exec "
              f"{worker}'")]
    return "\n".join(lines) + "\n"


def submit_run(cfg, options) -> dict:
    """Create the run (queued for Slurm, never started here), write its script, submit it unless told not
    to."""
    from studio.runs.registry import create_run

    cfg.distributed.nodes = options.nodes
    if options.nodes > 1:
        cfg.distributed.main = SLURM_MAIN
    run_dir = create_run(cfg, message="Waiting for Slurm.", slurm_job="not submitted")
    script = run_dir / SCRIPT
    script.write_text(run_script(run_dir, options.nodes, options), encoding="utf-8")
    if options.no_submit:
        files.update_status(run_dir, message=f"Not submitted; submit with `sbatch {script}`.")
        return {"run": run_dir.name, "dir": str(run_dir), "script": str(script), "job": None}
    try:
        job = sbatch(script)
    except SlurmError as exc:  # the folder stays, with the script and the reason, but never looks queued
        files.update_status(run_dir, state="failed", message=str(exc), finished=time.time())
        raise
    files.update_status(run_dir, slurm_job=job, message=f"Submitted to Slurm as job {job}.")
    return {"run": run_dir.name, "dir": str(run_dir), "script": str(script), "job": job}


def sbatch(script: Path) -> str:
    if shutil.which("sbatch") is None:
        raise SlurmError("sbatch is not on this machine's PATH; run this on the cluster's login node, or use "
                         f"--no-submit and submit {script} there.")
    done = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise SlurmError(f"Slurm refused the job ({reason[-1] if reason else 'no reason given'}); "
                         "check --partition, --time and --account.")
    return done.stdout.strip().split(";")[0]


def job_state(job: str) -> str | None:
    """The job's state as Slurm says it (PENDING, RUNNING, COMPLETED, FAILED, ...), "ENDED" when it has left
    the queue and no accounting says how, or None when Slurm cannot be asked."""
    if shutil.which("squeue") is None:
        return None
    queue = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True,
                           check=False)
    if queue.stdout.split():
        return queue.stdout.split()[0].upper()
    if shutil.which("sacct"):
        acct = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job, "-o", "State"], capture_output=True,
                              text=True,
                              check=False)
        if acct.returncode == 0 and acct.stdout.split():
            return acct.stdout.split()[0].upper()
    # squeue forgets a finished job after a while and answers "Invalid job id": either way it is gone.
    return "ENDED" if queue.returncode == 0 or "invalid job id" in queue.stderr.lower() else None


def follow(run_dir: Path, status: dict) -> None:
    """A Slurm run whose job has left the queue while its folder still says it trains has ended badly."""
    job = status.get("slurm_job")
    if not job or not job.isdigit() or status.get("state") not in files.ACTIVE_STATES:
        return
    state = job_state(job)
    if state in (None, "PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "SUSPENDED"):
        if state == "RUNNING" and status.get("state") == "queued":
            files.update_status(run_dir, only_if=("queued",), message=f"Slurm job {job} is starting.")
        return
    files.update_status(run_dir, only_if=files.ACTIVE_STATES, state="failed", eta_s=None,
                        message=f"Slurm job {job} ended ({state}) before the run did; its output is in "
                                f"{run_dir / f'slurm-{job}.out'}.", log_tail=files.tail_log(run_dir, 20))


def cancel(job: str) -> None:
    if shutil.which("scancel") is None:
        raise SlurmError("scancel is not on this machine's PATH; cancel the job on the cluster's login node.")
    subprocess.run(["scancel", job], capture_output=True, text=True, check=False)


def submit_sweep(spec, args, plan) -> dict:
    """A job array: each task runs one trial of the shared study; the Sweep view reads them all."""
    from studio.sweeps.study import open_study, sweep_folder

    folder = sweep_folder(spec)
    open_study(spec, folder)  # created (and a grid enqueued) once, before the tasks start
    recipe = folder / "recipe.yaml"
    controller = (f"{shlex.quote(sys.executable)} -m studio.sweeps.task {shlex.quote(str(recipe))}")
    lines = header(f"studio-sweep-{spec.name}", 1, args, str(folder / "slurm-%A_%a.out"),
                   array=f"0-{spec.total() - 1}%{max(1, args.parallel)}")
    script = folder / SCRIPT
    script.write_text("\n".join([*lines, f"srun --kill-on-bad-exit=1 {controller}"]) + "\n", encoding="utf-8")
    job = None if args.no_submit else sbatch(script)
    return {"sweep": spec.name, "script": str(script), "job": job, "trials": spec.total(),
            "plan": plan.to_json()}
