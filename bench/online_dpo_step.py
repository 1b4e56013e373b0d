"""Benchmark: where one online DPO step's time goes, phase by phase, for variants of the recipe side by side.

    STUDIO_IGNORE_CPU_BF16=1 .venv/bin/python bench/online_dpo_step.py --reward RUN_DIR [--steps 3]
        [--variant NAME=KEY=VALUE,KEY=VALUE ...] [--rounds 2] [--json]

Trains presets/recipes/pineapple-online-dpo.yaml in this process for a few steps (training.max_steps
overridden) once per variant, in turns (A B A B with --rounds 2), so the noise of a shared machine falls on
every variant alike. TRL's OnlineDPOTrainer is timed around its own phases by wrapping its methods here, in
the bench, not in the product: sampling the two answers (``_generate``), the policy's forward
(``_forward`` with gradients), the reference's forward (``_forward`` without), the reward model
(``_calculate_rewards_from_functions``) and the rest of the step (the backward, the optimizer, callbacks).
The first step of each run is left out of the means (one-off costs). Printed per variant: seconds per step
and per phase, the sampled answers' mean length, and the load average over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import studio  # noqa: F401  before torch, as in the studio's own processes (its OpenMP setting)

RECIPE = ROOT / "presets/recipes/pineapple-online-dpo.yaml"
PHASES = ("generate", "policy forward", "reference forward", "reward model", "rest (backward, optimizer)")


class Timer:
    """Seconds spent in each phase during the current step, and the finished steps' records."""

    def __init__(self):
        self.current: dict[str, float] = defaultdict(float)
        self.steps: list[dict[str, float]] = []
        self.lengths: list[float] = []
        self.step_started = 0.0

    @contextmanager
    def phase(self, name: str):
        began = time.perf_counter()
        try:
            yield
        finally:
            self.current[name] += time.perf_counter() - began


TIMER = Timer()


def instrument() -> None:
    """Wrap OnlineDPOTrainer's phases with TIMER (the bench's process only)."""
    import torch
    from transformers import TrainerCallback
    from trl.experimental.online_dpo import OnlineDPOTrainer

    generate, forward = OnlineDPOTrainer._generate, OnlineDPOTrainer._forward
    rewards = OnlineDPOTrainer._calculate_rewards_from_functions

    def timed_generate(self, *args, **kwargs):
        with TIMER.phase("generate"):
            out = generate(self, *args, **kwargs)
        TIMER.lengths.append(float(out[3].sum(1).float().mean()))  # completion_mask: answer tokens
        return out

    def timed_forward(self, *args, **kwargs):
        with TIMER.phase("policy forward" if torch.is_grad_enabled() else "reference forward"):
            return forward(self, *args, **kwargs)

    def timed_rewards(self, *args, **kwargs):
        with TIMER.phase("reward model"):
            return rewards(self, *args, **kwargs)

    OnlineDPOTrainer._generate, OnlineDPOTrainer._forward = timed_generate, timed_forward
    OnlineDPOTrainer._calculate_rewards_from_functions = timed_rewards

    class StepClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            TIMER.current = defaultdict(float)
            TIMER.step_started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            total = time.perf_counter() - TIMER.step_started
            record = dict(TIMER.current)
            record["rest (backward, optimizer)"] = total - sum(record.values())
            record["step"] = total
            TIMER.steps.append(record)
            print(f"step {state.global_step}: " + ", ".join(f"{k} {v:.1f} s" for k, v in record.items()),
                  file=sys.stderr, flush=True)

    global STEP_CLOCK
    STEP_CLOCK = StepClock


def run_variant(reward: str, overrides: list[str], steps: int, folder: Path) -> dict:
    from studio.config import RunConfig
    from studio.training.train import train

    cfg = RunConfig.from_yaml(RECIPE, [f"training.max_steps={steps}", f"training.save_steps={steps}",
                                       f"online_dpo.reward_model={reward}", *overrides])
    TIMER.steps, TIMER.lengths = [], []
    load_before = os.getloadavg()[0]
    train(cfg, Path(tempfile.mkdtemp(dir=folder)), callbacks=[STEP_CLOCK()])
    measured = TIMER.steps[1:] or TIMER.steps  # the first step pays one-off costs
    mean = {k: round(sum(s.get(k, 0.0) for s in measured) / len(measured), 2) for k in ("step", *PHASES)}
    return {"per_step": mean, "steps": [round(s["step"], 1) for s in TIMER.steps],
            "answer_tokens": round(sum(TIMER.lengths) / max(len(TIMER.lengths), 1), 1),
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward", required=True, help="a finished reward run")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1, help="runs per variant, in turns")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=override,override (e.g. batched=online_dpo.max_new_tokens=32); "
                             "'recipe' (no overrides) always runs first")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--env", action="append", default=[],
                        help="NAME=VAR=VALUE: also run the recipe in a fresh process with VAR=VALUE set "
                             "before torch loads (threading settings are read once, at import), in turns "
                             "with a process without it ('as set'); e.g. spinning=GOMP_SPINCOUNT=300000")
    parser.add_argument("--stacks", type=float, default=0,
                        help="every this many seconds, print every thread's stack to stderr (a poor man's "
                             "sampling profiler: where a slow phase spends its time)")
    args = parser.parse_args()
    if args.stacks:
        import faulthandler

        faulthandler.dump_traceback_later(args.stacks, repeat=True)
    if args.env:
        return in_processes(args)
    variants = {"recipe": []}
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        variants[name] = [o for o in rest.split(",") if o]
    instrument()
    folder = Path(tempfile.mkdtemp(prefix="online-dpo-step-"))
    os.environ.setdefault("STUDIO_HOME", str(folder / "home"))
    results: dict[str, list] = defaultdict(list)
    for _ in range(args.rounds):
        for name, overrides in variants.items():
            results[name].append(run_variant(args.reward, overrides, args.steps, folder))
            if not args.json:
                print(name, json.dumps(results[name][-1]), flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


def in_processes(args) -> int:
    """Each --env variant and the process as set, in fresh processes, in turns; their per-step figures."""
    import subprocess

    variants = {"as set": {}}
    for spec in args.env:
        name, _, assignment = spec.partition("=")
        key, _, value = assignment.partition("=")
        variants[name] = {key: value}
    results: dict[str, list] = defaultdict(list)
    for _ in range(args.rounds):
        for name, extra in variants.items():
            command = [sys.executable, __file__, "--reward", args.reward, "--steps", str(args.steps),
                       "--json"]
            done = subprocess.run(command, env={**os.environ, **extra}, capture_output=True, text=True,
                                  check=True)
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1])["recipe"][0])
            print(name, json.dumps(results[name][-1]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
