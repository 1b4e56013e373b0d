"""AI feedback -> preference pairs: a judge's verdicts written in TRL's conversational preference layout
(prompt, chosen, rejected), the layout the Chat tab's votes use, so `studio data inspect`, DPO and the
reward model read the file as it is. Each row also keeps the judge's name, its reasons and scores.

Pairwise verdicts: only the consistent, decisive ones become pairs (the winner's answer chosen); ties are
dropped and counted; inconsistent ones (the verdict flips with the order) are counted and listed in a
file beside the pairs, never silently dropped. Single grades (UltraFeedback's binarizing): per prompt
the best-graded answer is chosen and a lower-graded one (drawn with a fixed seed) rejected; a prompt whose
answers all got the same grade gives no pair. Only first turns give pairs: a second turn's conversation
holds each model's own first answer, so the two answers would not share a prompt.
"""

from __future__ import annotations

import json
import random
from pathlib import Path


def _row(question: str, chosen: str, rejected: str, chosen_model: str, rejected_model: str, judge: str,
         **evidence) -> dict:
    return {"prompt": [{"role": "user", "content": question}],
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}],
            "chosen_model": chosen_model, "rejected_model": rejected_model, "judge": judge, **evidence}


def pairs_from_pairwise(records: list[dict], questions: dict) -> tuple[list[dict], list[dict], int]:
    """(pairs, inconsistent items, ties) from a pairwise job's records (first turns)."""
    by_item: dict = {}
    for record in records:
        if record["turn"] == 1:
            by_item.setdefault(record["question_id"], {})[record["order"]] = record
    pairs, inconsistent, ties = [], [], 0
    for qid, orders in by_item.items():
        given, swapped = orders.get("as given"), orders.get("swapped")
        if not (given and swapped):
            continue
        outcome = given["outcome"]
        reasons = [given["reply"], swapped["reply"]]
        if outcome == "inconsistent":
            inconsistent.append({"question_id": qid, "question": questions[qid]["turns"][0],
                                 "answer_a": given["answer_a"], "answer_b": given["answer_b"],
                                 "model_a": given["model_a"], "model_b": given["model_b"], "reasons": reasons,
                                 "verdicts": [given["verdict"], swapped["verdict"]]})
        elif outcome == "tie":
            ties += 1
        elif outcome in ("win", "loss"):
            won = outcome == "win"
            win_text, lose_text = (given["answer_a"], given["answer_b"]) if won else (given["answer_b"],
                                                                                      given["answer_a"])
            win_model, lose_model = (given["model_a"], given["model_b"]) if won else (given["model_b"],
                                                                                      given["model_a"])
            pairs.append(_row(questions[qid]["turns"][0], win_text, lose_text, win_model, lose_model,
                              given["judge"],
                              question_id=qid, reasons=reasons,
                              verdicts=[given["verdict"], swapped["verdict"]]))
    return pairs, inconsistent, ties


def pairs_from_grades(graded: list[list[dict]], questions: dict, seed: int = 0) -> tuple[list[dict], int]:
    """(pairs, prompts without one) from single grades: ``graded[k]`` holds sample k's first-turn records."""
    rng = random.Random(seed)
    by_item: dict = {}
    for sample in graded:
        for record in sample:
            if record["turn"] == 1 and record["verdict"] is not None:
                by_item.setdefault(record["question_id"], []).append(record)
    pairs, dropped = [], 0
    for qid, records in by_item.items():
        best = max(r["verdict"] for r in records)
        top = [r for r in records if r["verdict"] == best]
        lower = [r for r in records if r["verdict"] < best]
        if not lower:
            dropped += 1
            continue
        chosen, rejected = top[0], rng.choice(lower)
        pairs.append(_row(questions[qid]["turns"][0], chosen["answer"], rejected["answer"], chosen["model"],
                          rejected["model"], chosen["judge"], question_id=qid, reasons=[chosen["reply"],
                          rejected["reply"]], scores=[chosen["verdict"], rejected["verdict"]]))
    return pairs, dropped


def write_pairs(path: str | Path, pairs: list[dict], inconsistent: list[dict] | None = None) -> dict:
    """Writes the pairs (and the inconsistent items beside them, NAME.inconsistent.jsonl); what was
    written."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    written = {"pairs_out": str(path), "pairs": len(pairs)}
    if inconsistent:
        listed = path.with_name(path.stem + ".inconsistent.jsonl")
        listed.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in inconsistent),
                          encoding="utf-8")
        written["inconsistent_out"] = str(listed)
    return written
