"""Evaluation: held-out preference pairs scored by the base and by the tuned adapter, and answers
before and after, side by side.

Log-probabilities are computed the way TRL's DPOTrainer computes them: the prompt is rendered with
the run's chat template (generation prompt added), the completion starts where the tokenized prompt
and prompt+completion diverge (``trl.data_utils.common_prefix_length``), sequences are batched and
truncated by TRL's ``DataCollatorForPreference`` with the run's max_length, and the score is the sum
of the completion tokens' log-probabilities (``trl.trainer.utils.selective_log_softmax``). The base
is the reference (the adapter switched off), as in training.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.evaluation.pairs_table import METRIC_LABELS, REWARD_LABELS, eval_table, format_table  # noqa: F401
from studio.i18n import tr
from studio.runs.files import EVAL_FILE
from studio.runs.folder import config_path, is_run_folder, read_json, run_of, write_json

# Scales the margin of a run whose method declares no margin option (SFT, RL; Method.margin_option).
MARGIN_BETA = 0.1


class EvalError(StudioError):
    """An evaluation that cannot run, phrased as one sentence the user can act on."""


run_dir_of = run_of  # the run folder for a run, its adapter/ or a checkpoint (studio.runs.folder)


def run_beta(run_dir: str | Path) -> float:
    """The β that scaled the run's implicit reward (the option its method names as ``margin_option``), else
    the usual β (MARGIN_BETA) for a method without one (SFT; an RL run's beta weighs the KL instead)."""
    from studio.config import RunConfig
    from studio.methods import find_method

    config = config_path(run_dir_of(run_dir))
    if config.is_file():
        cfg = RunConfig.from_yaml(config)
        method = find_method(cfg.method)
        option = method.margin_option if method else ""
        beta = getattr(cfg.method_options, option, None) if option else None
        if isinstance(beta, (int, float)):
            return float(beta)
    return MARGIN_BETA


def _run_max_length(run_dir: Path) -> int | None:
    from studio.config import RunConfig

    config = config_path(run_dir_of(run_dir))
    return RunConfig.from_yaml(config).training.max_length if config.is_file() else None


def load_pairs(pairs_file: str | Path) -> list[dict]:
    """Preference pairs from any format the data pipeline reads, as prompt/chosen/rejected message lists."""
    from studio.config import DataConfig
    from studio.data import load_training_data

    path = Path(pairs_file)
    if not path.exists():
        raise EvalError(f"The pairs file {path} does not exist; give a file of held-out preference pairs.")
    loaded = load_training_data(DataConfig(source=str(path)), "preference")
    dataset = getattr(loaded, "dataset", loaded)
    rows = [dict(row) for row in dataset]
    if not rows:
        raise EvalError(f"The pairs file {path} holds no usable preference pairs; check its format.")
    return rows


def _messages(value: Any, role: str) -> list[dict]:
    return [{"role": role, "content": value}] if isinstance(value, str) else list(value)


def tokenize_pair(tokenizer, row: dict) -> dict:
    """Split one pair into prompt/chosen/rejected token ids exactly as DPOTrainer's tokenization does."""
    from trl.data_utils import common_prefix_length

    prompt = _messages(row["prompt"], "user")

    def ids(messages: list[dict], **kwargs) -> list[int]:
        out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)
        return list(out["input_ids"])

    prompt_ids = ids(prompt, add_generation_prompt=True)
    chosen_ids = ids(prompt + _messages(row["chosen"], "assistant"))
    rejected_ids = ids(prompt + _messages(row["rejected"], "assistant"))
    start = min(common_prefix_length(prompt_ids, chosen_ids), common_prefix_length(prompt_ids, rejected_ids))
    return {"prompt_ids": prompt_ids[:start], "chosen_ids": chosen_ids[start:],
            "rejected_ids": rejected_ids[start:]}


def sequence_logps(model, batch: dict):
    """Sum of completion-token log-probabilities per row of a DataCollatorForPreference batch."""
    from trl.trainer.utils import selective_log_softmax

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   use_cache=False).logits
    per_token = selective_log_softmax(logits[:, :-1].float(), batch["input_ids"][:, 1:])
    mask = batch["completion_mask"][:, 1:].to(per_token.dtype)
    return (per_token * mask).sum(dim=1)


def score_pairs(model, tokenizer, rows: list[dict], *, max_length: int | None = None,
                batch_size: int = 4) -> dict[str, list[float]]:
    """Per-pair log-probabilities of chosen and rejected, with the adapter on (tuned) and off (base)."""
    import torch
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    examples = [tokenize_pair(tokenizer, row) for row in rows]
    if max_length is not None:  # DPOTrainer drops pairs whose prompt alone fills max_length
        examples = [e for e in examples if len(e["prompt_ids"]) < max_length]
    if not examples:
        raise EvalError("Every pair's prompt is longer than the run's max_length, so nothing can be scored.")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collate = DataCollatorForPreference(pad_token_id=pad_id, max_length=max_length)
    scores: dict[str, list[float]] = {"base_chosen": [], "base_rejected": [], "tuned_chosen": [],
                                      "tuned_rejected": []}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                batch = collate(examples[start:start + batch_size])
                tuned = sequence_logps(model, batch)
                with model.disable_adapter():
                    base = sequence_logps(model, batch)
                for name, values in (("tuned", tuned), ("base", base)):
                    chosen, rejected = values.chunk(2, dim=0)
                    scores[f"{name}_chosen"] += chosen.tolist()
                    scores[f"{name}_rejected"] += rejected.tolist()
    finally:
        model.train(was_training)
    return scores


def summarize(scores: dict[str, list[float]], beta: float) -> dict:
    """The evaluation result from per-pair scores; the base is its own reference, so its margin is 0."""
    n = len(scores["base_chosen"])

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return sum(values) / len(values)

    bc, br, tc, tr = (scores[k] for k in ("base_chosen", "base_rejected", "tuned_chosen", "tuned_rejected"))
    margins = [beta * ((tc[i] - bc[i]) - (tr[i] - br[i])) for i in range(n)]
    return {
        "base": {"accuracy": mean(c > r for c, r in zip(bc, br)), "margin": 0.0,
                 "chosen_logp": mean(bc), "rejected_logp": mean(br)},
        "tuned": {"accuracy": mean(c > r for c, r in zip(tc, tr)), "margin": mean(margins),
                  "chosen_logp": mean(tc), "rejected_logp": mean(tr),
                  "reward_accuracy": mean(m > 0 for m in margins)},
        "pairs": n,
        "beta": beta,
    }


def evaluate(run_dir: str | Path, pairs_file: str | Path, beta: float | None = None, *,
             model=None, save: bool = True) -> dict:
    """Score held-out preference pairs with the base and the tuned model.

    Returns ``{"base": {"accuracy", "margin", "chosen_logp", "rejected_logp"}, "tuned": {...},
    "pairs": N, "beta": β}``. ``model`` may be an already loaded ``BeforeAfter`` for this run (the
    Chat tab keeps one). With ``save`` the result is also written to RUN_DIR/eval.json, which the
    model card reads.
    """
    from studio.chat.before_after import BeforeAfter
    from studio.runs.adapters import is_reward_run

    run_dir = Path(run_dir)
    if is_reward_run(run_dir):
        return _evaluate_reward(run_dir, pairs_file, model=model, save=save)
    beta = run_beta(run_dir) if beta is None else float(beta)
    if not beta > 0:
        raise EvalError(f"Beta must be above 0 (got {beta}); leave it out to use the run's own "
                        f"(or {MARGIN_BETA}).")
    rows = load_pairs(pairs_file)
    pair_model = model if model is not None else BeforeAfter(run_dir)
    lock = getattr(pair_model, "_lock", None)
    if lock is not None:
        with lock:  # the adapter switch is global state shared with generation
            scores = score_pairs(pair_model.model, pair_model.tokenizer, rows,
                                 max_length=_run_max_length(run_dir))
    else:
        scores = score_pairs(pair_model.model, pair_model.tokenizer, rows,
                             max_length=_run_max_length(run_dir))
    result = summarize(scores, beta)
    if not all(math.isfinite(v) for part in ("base", "tuned") for v in result[part].values()):
        raise EvalError("The scores came out as NaN or infinite; the adapter's training likely diverged.")
    if save:
        _save(run_dir, pairs_file, result)
    return result


def _save(run_dir: Path, pairs_file: str | Path, result: dict) -> None:
    target = run_dir_of(run_dir)
    if is_run_folder(target):  # only inside a real run folder
        record = {**result, "pairs_file": Path(pairs_file).name, "time": round(time.time(), 3)}
        write_json(target, EVAL_FILE, record)


def _evaluate_reward(run_dir: Path, pairs_file: str | Path, *, model=None, save: bool = True) -> dict:
    """A reward run ranks each held-out pair: accuracy is the share where r(chosen) > r(rejected)."""
    from studio.evaluation.reward import RewardModel, check_reward_run, pairwise

    check_reward_run(run_dir)
    rows = load_pairs(pairs_file)
    result = pairwise(model if isinstance(model, RewardModel) else RewardModel(run_dir), rows)
    if not all(math.isfinite(v) for part in ("base", "tuned") for v in result[part].values()):
        raise EvalError("The rewards came out as NaN or infinite; the reward model's training likely "
                        "diverged.")
    if save:
        _save(run_dir, pairs_file, result)
    return result


def load_saved_eval(run_dir: str | Path) -> dict | None:
    """The last evaluation written by ``evaluate`` for this run, if any."""
    return read_json(run_dir_of(run_dir), EVAL_FILE) or None


def read_prompts(prompts_file: str | Path) -> list[str]:
    """Prompts from a text file (one per line; blank lines and # comments skipped) or a .jsonl with
    "prompt"."""
    path = Path(prompts_file)
    if not path.is_file():
        raise EvalError(f"The prompts file {path} does not exist; give a text file with one prompt per line.")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        prompts = []
        for line in text.splitlines():
            if line.strip():
                value = json.loads(line).get("prompt", "")
                prompts.append(value if isinstance(value, str) else value[-1]["content"])
    else:
        prompts = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not prompts:
        raise EvalError(f"The prompts file {path} holds no prompts; write one prompt per line.")
    return prompts


def answer_prompts(run_dir: str | Path, prompts: list[str], sampling=None, *, model=None) -> list[dict]:
    """``[{"prompt", "before", "after"}]``: the base's and the tuned model's answers with the same
    settings."""
    from studio.chat.before_after import BeforeAfter

    pair_model = model if model is not None else BeforeAfter(run_dir)
    befores = pair_model.answer_many(prompts, False, sampling)
    afters = pair_model.answer_many(prompts, True, sampling)
    return [{"prompt": p, "before": b, "after": a} for p, b, a in zip(prompts, befores, afters, strict=True)]


def cli_eval(args) -> int:
    from studio.chat.before_after import BeforeAfter
    from studio.evaluation import classify_eval
    from studio.runs.adapters import is_reward_run

    if classify_eval.is_classifier_run(args.run_dir):  # labelled data, not preference pairs
        return classify_eval.cli_eval(args)
    if not args.pairs:
        raise EvalError("Name the held-out preference pairs to score with --pairs FILE (--data is for "
                        "classify runs).")
    if is_reward_run(args.run_dir):  # a scorer: it ranks the pairs, it has no answers to show
        if args.prompts:
            raise EvalError("A reward model scores answers instead of writing them, so --prompts does not "
                            "apply; "
                            "use `studio score` to compare two answers.")
        result = evaluate(args.run_dir, args.pairs)
        print(json.dumps(result, ensure_ascii=False) if args.json else format_table(result))
        return 0
    pair_model = BeforeAfter(args.run_dir)
    result = evaluate(args.run_dir, args.pairs, model=pair_model)
    answers = answer_prompts(args.run_dir, read_prompts(args.prompts),
                             model=pair_model) if args.prompts else None
    if args.json:
        out = dict(result)
        if answers is not None:
            out["answers"] = answers
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(format_table(result))
    for item in answers or []:
        print("\n" + tr("Prompt: {prompt}").format(prompt=item["prompt"]))
        print(tr("  Before: {answer}").format(answer=item["before"].strip()))
        print(tr("  After:  {answer}").format(answer=item["after"].strip()))
    sys.stdout.flush()
    return 0
