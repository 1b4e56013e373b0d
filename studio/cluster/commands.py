"""The terminal face of training beyond one machine: `studio train` with --nodes/--node-rank/--main or
--slurm,
`studio runs` following Slurm jobs, `studio stop` cancelling a waiting one. Each hands the ordinary case
to studio.runs.commands unchanged."""

from __future__ import annotations

import json
import sys

from studio.cluster import slurm
from studio.config import RunConfig
from studio.i18n import tr
from studio.runs import commands, files
from studio.runs.registry import list_runs, resolve_run


def node_overrides(args) -> list[str]:
    """--nodes/--node-rank/--main as the recipe's distributed.* options (so the run folder records them)."""
    given = {"distributed.nodes": args.nodes, "distributed.node_rank": args.node_rank,
             "distributed.main": args.main}
    return [f"{key}={value}" for key, value in given.items() if value is not None]


def node_commands(recipe: str, nodes: int, main: str, overrides: list[str] = ()) -> list[str]:
    """The command each node runs, node 0 first (the Train tab's cluster section shows them)."""
    extra = "".join(f" {item}" for item in overrides)
    return [f"studio train {recipe}{extra} --nodes {nodes} --node-rank {rank} --main {main}" for rank in
    range(nodes)]


def cli_train(args) -> int:
    if not args.slurm:
        args.overrides = [*args.overrides, *node_overrides(args)]
        return commands.cli_train(args)
    if args.node_rank is not None or args.main is not None:
        raise slurm.SlurmError("With --slurm the allocation decides each node's rank and the main node; "
                               "leave out --node-rank and --main.")
    args.nodes = args.nodes or 1
    cfg = RunConfig.from_yaml(args.config, args.overrides)
    done = slurm.submit_run(cfg, args)
    if args.no_submit:
        print(tr("Wrote {script}; submit it with `sbatch {script}`.").format(script=done["script"]),
              file=sys.stderr)
    else:
        print(tr("Run {run} submitted to Slurm as job {job}; `studio runs` follows it.").format(
            run=done["run"], job=done["job"]), file=sys.stderr)
    print(done["dir"])
    return 0


def follow_slurm_runs() -> None:
    for info in list_runs():
        status = files.read_status(info.dir)
        if status.get("slurm_job"):
            slurm.follow(info.dir, status)


def cli_runs(args) -> int:
    follow_slurm_runs()
    return commands.cli_runs(args)


def cli_stop(args) -> int:
    run_dir = resolve_run(args.run)
    status = files.read_status(run_dir)
    job = status.get("slurm_job") or ""
    if job.isdigit() and status.get("state") == "queued":  # still waiting in Slurm's queue: take it out
        slurm.cancel(job)
        files.update_status(run_dir, only_if=("queued",), state="stopped",
                            message=f"Stopped before it started; Slurm job {job} cancelled.")
        print(json.dumps({"run": status.get("id"), "cancelled": job}) if getattr(args, "json", False)
              else tr("Run {run}: Slurm job {job} cancelled before it started.").format(run=status.get("id"),
                                                                                       job=job))
        return 0
    return commands.cli_stop(args)  # a running job saves and ends through stop.request, like any run
