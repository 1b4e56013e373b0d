"""FastChat's MT-Bench judge prompts and GPT-4 reference answers, read from the wheel `make install`
fetches (studio.evaluation.bench_data), filled and parsed the way FastChat's llm_judge/common.py does.

Prompt names: ``single-v1`` (a 1-10 rating), ``single-math-v1`` (with the reference answer, for the
categories FastChat gives references: math, reasoning, coding), ``pair-v2`` and ``pair-math-v1`` (A, B or
C for a tie), and each one's ``-multi-turn`` form for the second turn (the whole conversation is shown,
the judge asked about the second answer).
"""

from __future__ import annotations

import ast
import json
import re
import zipfile
from functools import lru_cache

from studio.evaluation.bench_data import MTBENCH_QUESTIONS, MTBENCH_WHEEL, wheel

DATA_DIR = MTBENCH_QUESTIONS.rsplit("/mt_bench/", 1)[0]
JUDGE_PROMPTS = DATA_DIR + "/judge_prompts.jsonl"
REFERENCE_ANSWERS = DATA_DIR + "/mt_bench/reference_answer/gpt-4.jsonl"
NEED_REF_CATS = ("math", "reasoning", "coding")  # FastChat's NEED_REF_CATS (less its arena-hard set)

ONE_SCORE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")
RATING_WORDS = re.compile(r"Rating: (\d+)")


def _read_jsonl(member: str) -> list[dict]:
    with zipfile.ZipFile(wheel(MTBENCH_WHEEL)) as zf:
        text = zf.read(member).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=1)
def judge_prompts() -> dict[str, dict]:
    """name -> {system_prompt, prompt_template, type, output_format, ...} as FastChat ships them."""
    return {row["name"]: row for row in _read_jsonl(JUDGE_PROMPTS)}


@lru_cache(maxsize=1)
def reference_answers() -> dict[int, list[str]]:
    """question_id -> GPT-4's reference turns (FastChat grades math, reasoning and coding against them)."""
    return {row["question_id"]: list(row["choices"][0]["turns"]) for row in _read_jsonl(REFERENCE_ANSWERS)}


def prompt_name(mode: str, category: str, turn: int, has_reference: bool) -> str:
    math = has_reference and category in NEED_REF_CATS
    base = {("single", False): "single-v1", ("single", True): "single-math-v1",
            ("pairwise", False): "pair-v2", ("pairwise", True): "pair-math-v1"}[(mode, math)]
    return base + ("-multi-turn" if turn == 2 else "")


def single_messages(question: dict, answers: list[str], turn: int) -> list[dict]:
    """The judge's messages grading one model's answer to ``turn`` (1 or 2) of ``question``
    ({id, category, turns, reference?})."""
    reference = question.get("reference")
    spec = judge_prompts()[prompt_name("single", question["category"], turn, bool(reference))]
    fields = _reference_fields(reference, turn)
    if turn == 1:
        fields.update(question=question["turns"][0], answer=answers[0])
    else:
        fields.update(question_1=question["turns"][0], question_2=question["turns"][1],
                      answer_1=answers[0], answer_2=answers[1])
    return _messages(spec, fields)


def pair_messages(question: dict, answers_a: list[str], answers_b: list[str], turn: int) -> list[dict]:
    """The judge's messages comparing assistant A's and B's answers to ``turn`` of ``question``."""
    reference = question.get("reference")
    spec = judge_prompts()[prompt_name("pairwise", question["category"], turn, bool(reference))]
    fields = _reference_fields(reference, turn)
    if turn == 1:
        fields.update(question=question["turns"][0], answer_a=answers_a[0], answer_b=answers_b[0])
    else:
        fields.update(question_1=question["turns"][0], question_2=question["turns"][1],
                      answer_a_1=answers_a[0], answer_a_2=answers_a[1],
                      answer_b_1=answers_b[0], answer_b_2=answers_b[1])
    return _messages(spec, fields)


def _reference_fields(reference: list[str] | None, turn: int) -> dict:
    if not reference:
        return {}
    return {"ref_answer_1": reference[0], **({"ref_answer_2": reference[1]} if turn == 2 else {})}


def _messages(spec: dict, fields: dict) -> list[dict]:
    return [{"role": "system", "content": spec["system_prompt"]},
            {"role": "user", "content": spec["prompt_template"].format(**fields)}]


def parse_rating(reply: str) -> float | None:
    """FastChat's reading of a single grade: ``[[x]]``, else ``[x]``, else ``Rating: x`` (1-10); None: no
    verdict."""
    match = ONE_SCORE.search(reply) or ONE_SCORE_BACKUP.search(reply)
    if match:
        return float(ast.literal_eval(match.group(1)))
    words = RATING_WORDS.search(reply)
    if words and 1 <= int(words.group(1)) <= 10:
        return float(words.group(1))
    return None


def parse_pair(reply: str) -> str | None:
    """FastChat's reading of a pairwise verdict: "A", "B" or "tie" (checked in that order); None: no
    verdict."""
    for mark, verdict in (("[[A]]", "A"), ("[[B]]", "B"), ("[[C]]", "tie")):
        if mark in reply:
            return verdict
    return None
