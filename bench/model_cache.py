"""Benchmark: what the one model cache saves when one app chats with a run, serves it, answers its export
check and scores with a reward run, all on the embedded model (SmolLM2-135M, float32).

    .venv/bin/python bench/model_cache.py [--model embedded]

Builds two adapter runs on the model in a temporary folder (a policy and a reward model; untrained LoRA
weights, no training), then loads them the way the Chat tab, the server, the RLHF vs DPO tab and an export
check do, twice over in separate processes: once through the shared cache (today's studio) and once with a
private cache per loader (each part holding its own copy, as before the cache). After each load it prints
the bytes of distinct weight storages the parts hold (a copy held twice counts twice), the process's
resident memory (RSS: weights loaded from safetensors are memory-mapped, so RSS grows as pages are read,
not at the load) and the cache's own line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def make_runs(model: str, root: Path) -> tuple[Path, Path]:
    from peft import LoraConfig, get_peft_model

    from studio.models.loading import load_model, load_tokenizer, resolve_model
    from studio.runs.files import update_status
    from studio.runs.folder import write_base_marker

    resolved = resolve_model(model)
    runs = []
    for name, kind, task in (("policy", "causal_lm", "CAUSAL_LM"), ("reward", "reward", "SEQ_CLS")):
        run = root / name
        lora = LoraConfig(r=8, target_modules=["q_proj", "v_proj"], task_type=task)
        get_peft_model(load_model(resolved, kind=kind), lora).save_pretrained(run / "adapter")
        load_tokenizer(resolved).save_pretrained(run / "adapter")
        method = "reward" if kind == "reward" else "dpo"
        write_base_marker(run / "adapter", model=model, base_model=resolved.display_name, method=method)
        update_status(run, new=True, state="completed", name=name, method=method)
        runs.append(run)
    return runs[0], runs[1]


def weight_gib(models: list) -> float:
    """The bytes of distinct weight storages among ``models``: one copy counts once, two copies twice."""
    seen: dict[int, int] = {}
    for model in models:
        for tensor in [*model.parameters(), *model.buffers()]:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values()) / 2**30


def measure(policy: str, reward: str, private: bool) -> None:
    """One process: the four loaders one after another, each keeping what it loaded (as the parts do)."""
    from studio.chat.before_after import BeforeAfter
    from studio.chat.engine import Engine
    from studio.chat.sources import parse_source
    from studio.evaluation.reward import RewardModel
    from studio.models.cache import ModelCache, model_cache
    from studio.publish.serve_engine import ServedModel

    def engine() -> Engine:
        return Engine(cache=ModelCache(report=False)) if private else Engine()

    held, steps = [], {}

    def step(name: str, model) -> None:
        held.append(model)
        steps[name] = {"weights_gib": round(weight_gib(held), 2), "rss_gib": round(rss_gib(), 2)}

    step("chat", engine().model_for(parse_source(policy)))
    served = ServedModel(policy)
    served._models = engine()  # the server's engine, with the cache under test
    served.load()
    step("server", served._models.model_for(served.source))
    served.close()
    pair = BeforeAfter(policy, engine=engine())  # the export check's tuned answer, RLHF vs DPO's answers
    pair.answer("Hi", True)
    step("export check", pair.model)
    for name in ("reward scorer", "reward scorer again"):  # RLHF vs DPO's scorer, then the Score panel's
        if private:
            model_cache().evict()  # as before the cache: each scorer loaded its own copy
        step(name, RewardModel(reward).model)
    print(json.dumps({"private": private, "steps": steps, "cache": model_cache().describe()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--measure", nargs=3, metavar=("POLICY", "REWARD", "PRIVATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1], args.measure[2] == "1")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        policy, reward = make_runs(args.model, Path(tmp))
        for private in ("0", "1"):
            done = subprocess.run([sys.executable, __file__, "--measure", str(policy), str(reward), private],
                                  capture_output=True, text=True, check=False)
            print(done.stdout.strip().splitlines()[-1] if done.returncode == 0 else done.stderr[-2000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
