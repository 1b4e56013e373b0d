"""A trained reward model at work: score answers, compare two, rank held-out pairs.

A reward run holds a LoRA adapter plus its trained score head on top of the base model. Answers are
rendered exactly as TRL's RewardTrainer renders them in training (the prompt and the answer as one
conversation through the run's chat template), and the reward is the head's one number. The base
("before") is the same model with the adapter and the trained head switched off: the untrained head,
which starts from a fixed seed (studio.models.loading), so its figures are the same every time.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.i18n import tr
from studio.runs.adapters import adapter_dir_of, adapter_method, is_reward_run, run_base


class RewardModelError(StudioError):
    """A reward model that cannot be used as asked, in one sentence."""


def check_reward_run(run_dir: str | Path) -> Path:
    """The adapter folder of a reward run, or one sentence saying what to pick instead."""
    adapter = adapter_dir_of(run_dir)
    if not is_reward_run(adapter):
        method = adapter_method(adapter) or "an unknown method"
        raise RewardModelError(
            f"{run_dir} was trained with {method}, not as a reward model; pick a run trained with the reward "
            "method (e.g. `studio train presets/recipes/pineapple-reward.yaml`).")
    return adapter


def _messages(value: Any, role: str) -> list[dict]:
    return [{"role": role, "content": value}] if isinstance(value, str) else list(value)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


class RewardModel:
    """One reward run in memory: the base with its score head, the run's adapter switchable on and off.
    Loaded through the studio's model cache: every scorer of the run shares one copy and one lock."""

    def __init__(self, run_dir: str | Path):
        from studio.models.cache import LoadKey, model_cache, weights_bytes

        self.adapter_dir = check_reward_run(run_dir)  # before anything heavy loads
        stamp = max((p.stat().st_mtime for p in self.adapter_dir.glob("adapter_model*")), default=0.0)
        self._key = LoadKey(str(self.adapter_dir), "reward", stamp=stamp)
        base_path = run_base(self.adapter_dir)
        estimate = weights_bytes(base_path) if Path(base_path).is_dir() else 0
        self.model, self.tokenizer, self._lock = model_cache().get(
            self._key, self._load, label=f"{self.adapter_dir.parent.name} (reward)", estimate=estimate)

    def _load(self) -> tuple[Any, Any, threading.Lock]:
        from studio.models.loading import load_model, load_tokenizer, resolve_model
        from studio.models.pretrained import attach_adapter

        resolved = resolve_model(run_base(self.adapter_dir))
        tokenizer = load_tokenizer(type(resolved)(str(self.adapter_dir), resolved.display_name, True))
        base = load_model(resolved, kind="reward")
        # The head pools the last token that is not padding, as in training.
        base.config.pad_token_id = tokenizer.pad_token_id
        model = attach_adapter(base, self.adapter_dir)
        model.eval()
        return model, tokenizer, threading.Lock()  # the adapter switch is state of the shared model

    def take(self):
        """The PEFT model, taken out of the cache: the caller may write into its weights (a merge)."""
        from studio.models.cache import model_cache

        with self._lock:
            model_cache().take(self._key)
            return self.model

    def rewards(self, prompt: Any, answers: list[Any], tuned: bool = True) -> list[float]:
        """r(prompt, answer) for each answer; prompt and answers are texts or message lists."""
        return self.score([(prompt, answer) for answer in answers], tuned=tuned)

    def score(self, items: list[tuple[Any, Any]], tuned: bool = True, batch_size: int = 8) -> list[float]:
        """r(prompt, answer) for each (prompt, answer), a batch at a time: RL scores every sampled answer
        of a step, and one forward for eight is several times cheaper than eight forwards on a CPU."""
        import contextlib

        import torch

        rows = [self.tokenizer.apply_chat_template(_messages(p, "user") + _messages(a, "assistant"),
                                                   tokenize=True, return_dict=True)["input_ids"]
                for p, a in items]
        out: list[float] = []
        with self._lock, torch.no_grad():
            context = contextlib.nullcontext() if tuned else self.model.disable_adapter()
            with context:
                for start in range(0, len(rows), batch_size):
                    chunk = rows[start:start + batch_size]
                    # Padded on the right: the head pools each row's last token that is not padding,
                    # the same token it pools when the row is scored alone.
                    width = max(len(r) for r in chunk)
                    ids = torch.tensor([r + [self.tokenizer.pad_token_id] * (width - len(r)) for r in chunk])
                    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in chunk])
                    logits = self.model(input_ids=ids, attention_mask=mask).logits
                    out += [float(v) for v in logits.reshape(len(chunk), -1)[:, 0]]
        return out

    def compare(self, prompt: str, a: str, b: str) -> dict:
        """Both answers' rewards and P(A preferred) = σ(rA − rB), for the trained model and for the base."""
        result: dict[str, Any] = {"prompt": prompt, "a": a, "b": b}
        for name, tuned in (("tuned", True), ("base", False)):
            ra, rb = self.rewards(prompt, [a, b], tuned=tuned)
            result[name] = {"reward_a": ra, "reward_b": rb, "p_a_preferred": sigmoid(ra - rb)}
        return result


def pairwise(model: RewardModel, rows: list[dict]) -> dict:
    """Held-out pairs ranked by the trained and by the untrained head: accuracy = share with r(chosen) >
    r(rejected)."""
    result: dict[str, Any] = {"pairs": len(rows), "kind": "reward"}
    for name, tuned in (("tuned", True), ("base", False)):
        chosen, rejected = [], []
        for row in rows:
            rc, rr = model.rewards(row["prompt"], [row["chosen"], row["rejected"]], tuned=tuned)
            chosen.append(rc)
            rejected.append(rr)
        n = len(rows)
        result[name] = {
            "accuracy": sum(c > r for c, r in zip(chosen, rejected)) / n,
            "margin": sum(c - r for c, r in zip(chosen, rejected)) / n,
            "chosen_reward": sum(chosen) / n,
            "rejected_reward": sum(rejected) / n,
            "p_chosen_preferred": sum(sigmoid(c - r) for c, r in zip(chosen, rejected)) / n,
        }
    return result


def format_comparison(result: dict) -> str:
    t, b = result["tuned"], result["base"]
    reward = tr("     reward {tuned}  (untrained head {base})")
    return "\n".join([
        tr("Prompt: {prompt}").format(prompt=result["prompt"]),
        f"  A: {result['a']}", reward.format(tuned=f"{t['reward_a']:+.3f}", base=f"{b['reward_a']:+.3f}"),
        f"  B: {result['b']}", reward.format(tuned=f"{t['reward_b']:+.3f}", base=f"{b['reward_b']:+.3f}"),
        tr("P(A preferred) = σ(rA − rB) = {tuned}  (untrained head {base})").format(
            tuned=f"{t['p_a_preferred']:.1%}", base=f"{b['p_a_preferred']:.1%}")])


def cli_score(args) -> int:
    check_reward_run(args.run_dir)
    result = RewardModel(args.run_dir).compare(args.prompt, args.a, args.b)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_comparison(result))
    return 0
