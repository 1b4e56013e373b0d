"""Rows that rank, rate or judge several answers, turned into one preference pair each.

Each layout follows the rule its dataset card gives; the rule is the format's description, so the
preview and ``data inspect`` show it. A row whose answers tie, or whose scores are missing, gives no
pair: it raises ``NoPair`` (counted and listed apart from broken rows, since nothing is wrong with it).
Rated data where one prompt spans several rows (HelpSteer, oasst trees) is in ``studio.data.layouts.grouped``.
"""

from __future__ import annotations

from studio.data.layouts.messages import RowError, Skip, maybe_json, norm_messages, text_field
from studio.data.layouts.pair_rows import is_hh, pair, shared_prompt, split_hh


class NoPair(Skip):
    """A valid row that gives no preference pair (a tie, or too few scored answers)."""


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _number(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def nectar(row: dict) -> dict:
    """Nectar: answers [{answer, model, rank}], rank 1 the best; best against worst."""
    prompt_text = text_field(row, "prompt")
    answers = maybe_json(row.get("answers"))
    if not isinstance(answers, list):
        raise RowError("field 'answers' must be a list of {answer, rank}")
    ranked = [(_number(a.get("rank")), a.get("answer")) for a in answers if isinstance(a, dict)]
    ranked = sorted((r, t) for r, t in ranked if r is not None and isinstance(t, str) and t.strip())
    if len(ranked) < 2:
        raise NoPair("fewer than two ranked answers")
    if ranked[0][0] == ranked[-1][0]:
        raise NoPair("all answers share one rank")
    if is_hh({"chosen": prompt_text}):  # Nectar's prompts are "\n\nHuman: ...\n\nAssistant:" transcripts
        prompt = [t for t in split_hh(prompt_text, "prompt") if t["content"]]
    else:
        prompt = _user(prompt_text)
    return pair(prompt, _reply(ranked[0][1]), _reply(ranked[-1][1]))


def ultrafeedback_raw(row: dict) -> dict:
    """UltraFeedback (raw): completions [{response, overall_score}]; highest against lowest score."""
    prompt = _user(text_field(row, "instruction"))
    completions = maybe_json(row.get("completions"))
    if not isinstance(completions, list):
        raise RowError("field 'completions' must be a list of {response, overall_score}")
    scored = []
    for c in completions:
        if isinstance(c, dict) and isinstance(c.get("response"), str) and c["response"].strip():
            score = _number(c.get("overall_score"))
            if score is not None:
                scored.append((score, c["response"]))
    if len(scored) < 2:
        raise NoPair("fewer than two completions with an overall_score")
    scored.sort(key=lambda s: s[0])
    if scored[0][0] == scored[-1][0]:
        raise NoPair("all completions have the same overall_score")
    return pair(prompt, _reply(scored[-1][1]), _reply(scored[0][1]))


def shp(row: dict) -> dict:
    """SHP: labels = 1 when human_ref_A is preferred, 0 when human_ref_B is."""
    prompt = _user(text_field(row, "history"))
    a, b = text_field(row, "human_ref_A"), text_field(row, "human_ref_B")
    label = _number(row.get("labels"))
    if label not in (0.0, 1.0):
        raise NoPair("'labels' is neither 1 (A preferred) nor 0 (B preferred)")
    return pair(prompt, _reply(a if label == 1 else b), _reply(b if label == 1 else a))


def pku_saferlhf(row: dict) -> dict:
    """PKU-SafeRLHF: better_response_id (0 or 1) names the more helpful of response_0 / response_1."""
    prompt = _user(text_field(row, "prompt"))
    answers = (text_field(row, "response_0"), text_field(row, "response_1"))
    better = _number(row.get("better_response_id"))
    if better not in (0.0, 1.0):
        raise NoPair("'better_response_id' is neither 0 nor 1")
    i = int(better)
    return pair(prompt, _reply(answers[i]), _reply(answers[1 - i]))


def arena(row: dict) -> dict:
    """Chatbot Arena: winner model_a / model_b picks conversation_a / conversation_b; ties give no pair."""
    winner = str(row.get("winner") or "").strip().lower()
    if winner.startswith("tie"):
        raise NoPair(f"the judge called a {winner}")
    if winner not in ("model_a", "model_b"):
        raise NoPair(f"winner {winner or 'missing'!r} is neither model_a nor model_b")
    a = norm_messages(row.get("conversation_a"), "conversation_a")
    b = norm_messages(row.get("conversation_b"), "conversation_b")
    chosen, rejected = (a, b) if winner == "model_a" else (b, a)
    return pair(*shared_prompt(chosen, rejected))


def webgpt(row: dict) -> dict:
    """WebGPT comparisons: the answer with the higher score is chosen; equal scores give no pair."""
    question = row.get("question")
    text = question.get("full_text") if isinstance(question, dict) else question
    if not isinstance(text, str) or not text.strip():
        raise RowError("missing field 'question' (its full_text)")
    a, b = text_field(row, "answer_0"), text_field(row, "answer_1")
    sa, sb = _number(row.get("score_0")), _number(row.get("score_1"))
    if sa is None or sb is None:
        raise NoPair("a score is missing")
    if sa == sb:
        raise NoPair("both answers have the same score")
    return pair(_user(text), _reply(a if sa > sb else b), _reply(b if sa > sb else a))


def stack_exchange_preferences(row: dict) -> dict:
    """stack-exchange-preferences: answers [{text, pm_score}]; highest pm_score against lowest."""
    question = text_field(row, "question")
    answers = maybe_json(row.get("answers"))
    if not isinstance(answers, list):
        raise RowError("field 'answers' must be a list of {text, pm_score}")
    scored = sorted((s, a["text"]) for a in answers if isinstance(a, dict) and isinstance(a.get("text"), str)
                    and a["text"].strip() and (s := _number(a.get("pm_score"))) is not None)
    if len(scored) < 2:
        raise NoPair("fewer than two answers with a pm_score")
    if scored[0][0] == scored[-1][0]:
        raise NoPair("all answers have the same pm_score")
    return pair(_user(question), _reply(scored[-1][1]), _reply(scored[0][1]))


def helpsteer3(row: dict) -> dict:
    """HelpSteer3 preference: overall_preference -3..3, negative when response1 is better; 0 is a tie."""
    context = maybe_json(row.get("context"))
    prompt = _user(context) if isinstance(context, str) else norm_messages(context, "context",
                                                                           need_assistant=False)
    one, two = text_field(row, "response1"), text_field(row, "response2")
    score = _number(row.get("overall_preference"))
    if score is None:
        raise NoPair("overall_preference is missing")
    if score == 0:
        raise NoPair("overall_preference is 0 (a tie)")
    return pair(prompt, _reply(one if score < 0 else two), _reply(two if score < 0 else one))


RULES = {
    "nectar": "Nectar ranked answers: rank 1 is chosen, the lowest-ranked answer is rejected",
    "ultrafeedback-raw": "UltraFeedback scores: the highest overall_score is chosen, the lowest rejected",
    "shp": "SHP: labels=1 means human_ref_A is chosen, 0 means human_ref_B",
    "pku-saferlhf": "PKU-SafeRLHF: better_response_id names the chosen response",
    "chatbot-arena": "Chatbot Arena: the winner's conversation is chosen; ties give no pair",
    "helpsteer3": "HelpSteer3: a negative overall_preference makes response1 chosen, a positive one "
                  "response2; "
                  "0 is a tie and gives no pair",
    "webgpt": "WebGPT comparisons: the answer with the higher score is chosen; equal scores give no pair",
    "stack-exchange-preferences": "stack-exchange-preferences: the highest pm_score answer is chosen, the "
                                  "lowest "
                                  "rejected",
}
