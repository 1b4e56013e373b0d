"""`studio sweep RECIPE [--parallel K] [--plan] [--json]`: the plan first, then the trials, then the best."""

from __future__ import annotations

import json
import sys

from studio.i18n import tr
from studio.sweeps.plan import plan_sweep
from studio.sweeps.spec import load_spec


def cli_sweep(args) -> int:
    spec = load_spec(args.recipe, args.overrides)
    plan = plan_sweep(spec)
    print(tr("Sweep {name}: {plan} Best by {metric} ({direction}).").format(
        name=spec.name, plan=plan.sentence(), metric=spec.metric, direction=tr(spec.direction)),
        file=sys.stderr)
    if args.slurm:
        from studio.cluster.slurm import submit_sweep

        return _print(submit_sweep(spec, args, plan), args.json)
    if args.plan:
        return _print({"plan": plan.to_json()}, args.json)
    from studio.sweeps.study import run_sweep

    result = run_sweep(spec, parallel=args.parallel,
                       say=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps({**result, "plan": plan.to_json()}, indent=1))
        return 0
    for t in result["trials"]:
        shown = ", ".join(f"{k}={v}" for k, v in t["params"].items())
        value = "-" if t["metric"] is None else f"{t['metric']:.4g}"
        mark = "  <- best" if t["run"] == result["best"] else ""
        print(f"{t['number']:>3} {t['state']:9} {result['metric']}={value:10} {shown}  {t['run']}{mark}")
    if result["best"] is None:
        print(tr("No trial finished with a figure; `studio runs` shows why each ended."), file=sys.stderr)
        return 1
    params = ", ".join(f"{k}={v}" for k, v in result["best_params"].items())
    print(tr("Best: {run} ({params}); chat with it: studio chat {run}").format(run=result["best"],
                                                                              params=params), file=sys.stderr)
    return 0


def _print(data: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(data, indent=1))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0
