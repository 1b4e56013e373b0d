"""Judges against a real OpenAI-compatible server on 127.0.0.1 (tests/judge_server.py, whose rules are
known) through the real client, with tiny local models as contestants: FastChat's both-orders rule,
win rates the answers imply, retries then one sentence, the verdict cache resuming a job, the key never
written, AI feedback pairs the data layer reads, judge-human agreement and AlpacaEval's LC win rate."""

import json
import logging
import shutil
from pathlib import Path

import pytest
from judge_server import SLOW_S, JudgeServer, answer_of
from test_eval import tiny_dpo_run
from tiny_model import build_tiny_model

PROMPTS = ["Is pineapple on pizza a crime?", "What is the capital of France?", "Say hello to the world."]
# AlpacaEval 0.6.6's get_length_controlled_winrate on these inputs (length_controlled_minimal formula,
# n_splits=0: LogisticRegression(C=100, l1, liblinear)), computed with the package, scikit-learn 1.x and
# patsy.
PACKAGE_CASES = [
    {"preferences": [1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
     "model_lengths": [185, 44, 68, 279, 242, 66, 309, 318],
     "reference_lengths": [97, 57, 207, 129, 234, 302, 83, 51], "win_rate": 50.0,
     "lc_win_rate": 38.987430924289775},
    {"preferences": [0.5, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0,
                     0.0,
                     0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.5, 1.0, 0.0, 0.0],
     "model_lengths": [223, 88, 296, 306, 317, 210, 52, 125, 238, 252, 112, 61, 273, 167, 80, 195, 362, 313,
                       199, 253,
                       262, 51, 351, 165, 362, 256, 79, 167, 223, 105],
     "reference_lengths": [45, 168, 80, 369, 312, 69, 308, 274, 180, 205, 377, 314, 195, 331, 282, 97, 59,
                           180, 324,
                           55, 376, 394, 315, 386, 197, 201, 272, 86, 220, 249],
     "win_rate": 41.66666666666667, "lc_win_rate": 40.8653321414961},
]


@pytest.fixture(scope="module")
def server():
    srv = JudgeServer().start()
    yield srv
    srv.shutdown()


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-other"), seed=1)


@pytest.fixture
def judged_run(tmp_path_factory, tiny_model_dir, tmp_path) -> Path:
    """A private copy of the session's tiny DPO run, so the test may write judge.json into it."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


@pytest.fixture
def prompts(tmp_path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("\n".join(PROMPTS) + "\n")
    return path


def _judge(capsys, *args) -> dict:
    from studio.cli import main

    capsys.readouterr()
    code = main(["judge", *map(str, args), "--max-new-tokens", "8", "--retries", "0", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _records(result: dict) -> list[dict]:
    return [json.loads(line) for line in Path(result["records"]).read_text().splitlines()]


def test_fastchat_prompts_and_verdicts_come_from_the_wheel():
    from studio.evaluation.judges.job import load_questions
    from studio.evaluation.judges.prompts import (
        judge_prompts,
        pair_messages,
        parse_pair,
        parse_rating,
        single_messages,
    )

    assert {"single-v1", "single-math-v1", "pair-v2", "pair-math-v1", "single-v1-multi-turn",
            "pair-math-v1-multi-turn"} <= set(judge_prompts())
    questions = {q["id"]: q for q in load_questions("mt-bench")}
    assert len(questions) == 80 and questions[81]["reference"] is None
    math = questions[111]  # math: graded against GPT-4's reference answers, as FastChat does
    assert math["category"] == "math" and len(math["reference"]) == 2
    second = single_messages(math, ["one", "two"], 2)[1]["content"]
    assert math["reference"][1] in second and "### Assistant A:\ntwo" in second
    first = pair_messages(questions[81], ["short"], ["longer one"], 1)[1]["content"]
    assert answer_of(first, "A") == "short" and answer_of(first, "B") == "longer one"
    assert [parse_rating(t) for t in ("Rating: [[7]]", "[8.5]", "Rating: 4", "Rating: 11", "none")] == \
        [7.0, 8.5, 4.0, None, None]
    assert [parse_pair(t) for t in ("x [[B]]", "[[C]]", "A is better")] == ["B", "tie", None]


def test_a_judge_that_always_says_A_gives_only_ties(server, capsys, prompts, tiny_model_dir, other_model_dir,
                                                    tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    result = _judge(capsys, tiny_model_dir, "--bench", prompts, "--mode", "pairwise", "--against",
                    other_model_dir,
                    "--judge", server.url, "--judge-model", "always-a", "--pairs-out", pairs)
    n = len(PROMPTS)
    assert (result["wins"], result["ties"], result["losses"], result["inconsistent"]) == (0, n, 0, n)
    assert result["win_rate"] == 50.0 and result["flip_rate"] == 1.0
    records = _records(result)
    assert len(records) == 2 * n and {r["outcome"] for r in records} == {"inconsistent"}
    assert {r["order"] for r in records} == {"as given", "swapped"}
    assert result["pairs"] == 0 and pairs.read_text() == ""  # nothing consistent to learn from...
    listed = Path(result["inconsistent_out"]).read_text().splitlines()
    assert len(listed) == n == result["pairs_inconsistent"]  # ...and every inconsistent item listed


def test_a_judge_that_prefers_the_shorter_answer_gives_the_win_rate_the_answers_imply(
        server, capsys, prompts, judged_run, other_model_dir, tmp_path):
    from studio.data.inspect import inspect_source
    from studio.evaluation.judges.winrate import length_controlled_win_rate
    from studio.publish.card import build_model_card

    pairs = tmp_path / "ai-pairs.jsonl"
    result = _judge(capsys, judged_run / "adapter", "--bench", prompts, "--mode", "pairwise", "--against",
                    other_model_dir,
                    "--judge", server.url, "--judge-model", "shorter", "--pairs-out", pairs)
    given = [r for r in _records(result) if r["order"] == "as given"]
    mine, theirs = [len(r["answer_a"]) for r in given], [len(r["answer_b"]) for r in given]
    wins = sum(a < b for a, b in zip(mine, theirs))
    losses = sum(a > b for a, b in zip(mine, theirs))
    ties = len(given) - wins - losses
    assert wins + losses > 0, "the two tiny models must answer differently for this to mean anything"
    assert (result["wins"], result["losses"], result["ties"], result["inconsistent"]) == (wins, losses, ties,
                                                                                          0)
    assert result["win_rate"] == round(100 * (wins + ties / 2) / len(given), 2)
    preferences = [1.0 if a < b else 0.0 if a > b else 0.5 for a, b in zip(mine, theirs)]
    assert result["lc_win_rate"] == length_controlled_win_rate(preferences, mine, theirs)
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert len(rows) == wins + losses == result["pairs"]
    assert all(len(r["chosen"][0]["content"]) < len(r["rejected"][0]["content"]) and r["reasons"] for r in
    rows)
    report = inspect_source(str(pairs))
    assert report.kind == "preference" and report.valid_rows == len(rows)
    assert Path(result["records"]).is_relative_to(judged_run)  # the run's folder and its card hold the result
    saved = json.loads((judged_run / "judge.json").read_text())[f"{prompts.name} pairwise"]
    assert saved["win_rate"] == result["win_rate"] and saved["judge"] == f"shorter at {server.url}"
    card = build_model_card(judged_run)
    assert "## Judged" in card and f"win rate {result['win_rate']}%" in card and ("shorter at "
                                                                                  f"{server.url}") in card


def test_single_grading_on_mt_bench_means_per_turn_and_category(server, capsys, tiny_model_dir):
    result = _judge(capsys, tiny_model_dir, "--bench", "mt-bench", "--limit", "2", "--judge", server.url,
                    "--judge-model", "shorter")
    records = _records(result)
    assert len(records) == 4 and {r["turn"] for r in records} == {1, 2}
    expected = {r["question_id"] * 10 + r["turn"]: len(r["answer"]) % 10 + 1 for r in records}
    assert [r["verdict"] for r in records] == [expected[r["question_id"] * 10 + r["turn"]] for r in records]
    turn1 = [r["verdict"] for r in records if r["turn"] == 1]
    assert result["turn1"] == round(sum(turn1) / 2, 3) and result["n"] == 4
    assert result["score"] == round(sum(r["verdict"] for r in records) / 4, 3)
    assert list(result["per_category"]) == ["writing"]
    second = [m for model, m in server.calls if model == "shorter" and "### User:" in m[-1]["content"]]
    assert second, "turn 2 is graded with FastChat's multi-turn prompt"


def test_failures_are_retried_then_said_in_one_sentence_and_the_job_resumes_from_its_cache(server):
    from studio.errors import StudioError
    from studio.evaluation.judges.client import EndpointJudge, VerdictCache
    from studio.evaluation.judges.grading import grade_single

    questions = [{"id": i, "category": "", "turns": [p]} for i, p in enumerate(PROMPTS)]
    answers = {i: ["x" * (3 * i + 1)] for i in range(len(PROMPTS))}

    def grade(rule, **kwargs):
        judge = EndpointJudge(server.url, rule, **{"retries": 0, **kwargs})
        return grade_single(judge, VerdictCache(), questions, answers, "m", concurrency=1)

    busy = server.count("busy")
    with pytest.raises(StudioError, match=r"429 \(too many requests\) after 2 tries") as exc:
        grade("busy", retries=1)
    assert server.count("busy") - busy == 2 and str(exc.value).count(". ") == 0
    with pytest.raises(StudioError, match="did not answer within 0.5 s"):
        grade("slow", timeout=SLOW_S / 4)
    mute = server.count("mute")
    summary, _ = grade("mute")
    assert summary["no_verdict"] == len(PROMPTS) and summary["n"] == 0
    assert server.count("mute") - mute == 3 * len(PROMPTS)  # asked again twice, then reported

    server.fail_after, server.answered = 2, 0  # the judge gives out after two verdicts
    try:
        with pytest.raises(StudioError, match="429"):
            grade("shorter")
    finally:
        server.fail_after = None
    before = server.count("shorter")
    answered_before = server.answered
    resumed, records = grade("shorter")
    # the two cached verdicts are not asked again
    assert server.answered - answered_before == len(PROMPTS) - 2
    assert [r["verdict"] for r in records] == [len(answers[i][0]) % 10 + 1 for i in range(len(PROMPTS))]
    calls = server.count("shorter")
    again, _ = grade("shorter")
    assert server.count("shorter") == calls and again == resumed  # a repeated job sends nothing
    assert calls > before


def test_the_key_is_sent_but_never_written(server, capsys, prompts, tiny_model_dir, studio_home, tmp_path,
                                           monkeypatch):
    from studio.cli import main

    key = "sk-judge-secret-4242"
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    server.key = key
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
        assert main(["judge", str(tiny_model_dir), "--bench", str(prompts), "--judge", server.url,
                     "--judge-model",
                     "shorter", "--max-new-tokens", "8", "--retries", "0"]) == 2
        assert "refused the key (401)" in capsys.readouterr().err
        assert main(["-v", "judge", str(tiny_model_dir), "--bench", str(prompts), "--judge", server.url,
                     "--judge-model", "shorter", "--judge-key-file", str(key_file), "--max-new-tokens", "8",
                     "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
    finally:
        server.key = None
    assert result["n"] == len(PROMPTS)
    logs = [Path(h.baseFilename) for h in logging.getLogger().handlers if hasattr(h, "baseFilename")]
    for path in [*studio_home.rglob("*"), *logs]:
        if path.is_file():
            assert key not in path.read_text(errors="replace"), f"the key was written to {path}"


def test_ai_feedback_samples_two_answers_and_keeps_consistent_verdicts(server, capsys, prompts,
                                                                       tiny_model_dir,
                                                                      tmp_path):
    pairs = tmp_path / "feedback.jsonl"
    result = _judge(capsys, tiny_model_dir, "--bench", prompts, "--samples", "2", "--mode", "single",
                    "--judge", server.url, "--judge-model", "shorter", "--pairs-out", pairs)
    records = _records(result)
    assert len(records) == 2 * len(PROMPTS)
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert len(rows) + result["pairs_dropped_ties"] == len(PROMPTS)
    for row in rows:  # UltraFeedback's binarizing: the best-graded answer chosen, a lower one rejected
        assert row["scores"][0] > row["scores"][1] and row["chosen_model"].startswith(str(tiny_model_dir))
    # two sampled answers judged in both orders: the consistent, decisive verdicts become pairs
    result = _judge(capsys, tiny_model_dir, "--bench", prompts, "--samples", "2", "--mode", "pairwise",
                    "--judge", server.url, "--judge-model", "shorter", "--pairs-out", pairs)
    given = [r for r in _records(result) if r["order"] == "as given"]
    decisive = sum(len(r["answer_a"]) != len(r["answer_b"]) for r in given)
    assert result["pairs"] == decisive and result["pairs_dropped_ties"] == len(given) - decisive
    assert {r["model_a"] for r in given} == {f"{tiny_model_dir} sample 1"}


def test_agreement_on_a_hand_worked_example():
    from studio.evaluation.judges.agreement import agreement, self_preference

    human = ["x", "x", "y", "tie", "x", "y", "tie", "x"]
    judge = ["x", "y", "y", "tie", "tie", "y", "x", "x"]
    result = agreement(human, judge)
    # with ties: 5 of 8 the same; without: pairs neither called a tie (1, 2, 3, 6, 8): 4 of 5 the same.
    # kappa: p_o = 5/8; human x .5 y .25 tie .25, judge x .375 y .375 tie .25 -> p_e = .1875 + .09375 + .0625
    assert (result["with_ties"], result["without_ties"], result["decisive_pairs"]) == (0.625, 0.8, 5)
    assert result["kappa"] == round((0.625 - 0.34375) / (1 - 0.34375), 4)
    assert "one of the contestants" in self_preference("tiny at http://h/v1", None, {"tiny": "b"})
    assert "shares its base" in self_preference("judge (local)", "/m/base", {"run-1": "/m/base"})
    assert self_preference("big at http://h/v1", None, {"run-1": "/m/base"}) == ""
    assert "one of the contestants" in self_preference("qwen3-8b at http://h/v1", None,
                                                       {"base": "/hub/Qwen3-8B"})
    # a contestant behind a URL is named as the judge is: the same model on the same server is noticed
    served = "run at http://h:8000/v1"
    assert "one of the contestants" in self_preference(served, None, {served: ""})


def test_judge_beside_the_arena_votes(server, studio_home):
    from studio.chat import feedback
    from studio.evaluation.judges.client import EndpointJudge
    from studio.evaluation.judges.commands import judge_votes

    user = [{"role": "user", "content": "Hi?"}]
    feedback.append_row(feedback.feedback_path(), feedback.preference_row(
        user, "Hello.", "Hello there, friend.", "m1", "m2", blind=True, conversation="c1", turn=1))
    feedback.append_row(feedback.feedback_path(), feedback.preference_row(
        user, "A long greeting to you.", "Hey.", "m1", "m2", blind=True, conversation="c2", turn=1))
    feedback.append_row(feedback.other_votes_path(), feedback.other_vote_row(
        "tie", user, "Yo.", user, "Good day.", "m1", "m2", blind=True, conversation="c3", turn=1))
    result = judge_votes(EndpointJudge(server.url, "shorter", retries=0))
    # the shorter-answer judge agrees with the first vote, not the second, and calls the tie for "Yo."
    assert (result["pairs"], result["with_ties"], result["without_ties"],
            result["flip_rate"]) == (3, 0.3333, 0.5, 0.0)
    judged = {r["model"] for r in result["judge_board"]}
    assert judged == {r["model"] for r in result["human_board"]} == {"m1", "m2"}
    # Saved where the Leaderboard reads it: the judge's ratings beside the blind votes', without judging
    # again.
    from studio.evaluation.arena import leaderboard, read_votes
    from studio.evaluation.judges.agreement import latest_votes_result
    from studio.ui.judge.leaderboard_panel import board_markdown

    saved = latest_votes_result()
    assert saved["records"] == result["records"] and len(_records(result)) == 2 * 3
    calls = server.count("shorter")
    board = board_markdown()
    assert server.count("shorter") == calls
    assert "agree on 33% of the 3 pairs with ties, 50% of the 2 without" in board and "⚠️" not in board
    judge = {r["model"]: f"{r['rating']:.0f}" for r in saved["judge_board"]}
    blind = leaderboard(read_votes(), resamples=10)["ranked"]  # the point ratings need no resampling
    human = {r["model"]: f"{r['rating']:.0f}" for r in blind}
    assert all(f"| {m} | {judge[m]} | {human[m]} |" in board for m in ("m1", "m2")), board
    own = judge_votes(EndpointJudge(server.url, "m1", retries=0))  # the judge is a contestant: warned
    assert "one of the contestants (m1)" in own["warning"]
    assert latest_votes_result()["warning"] == own["warning"]


def test_length_controlled_win_rate_matches_alpaca_eval():
    from studio.evaluation.judges.winrate import length_controlled_win_rate, win_rate

    for case in PACKAGE_CASES:
        assert win_rate(case["preferences"]) == round(case["win_rate"], 2)
        assert length_controlled_win_rate(case["preferences"], case["model_lengths"],
                                          case["reference_lengths"]) == \
            round(case["lc_win_rate"], 2)


def test_a_local_judge_and_a_cancelled_job(tiny_model_dir, prompts, server):
    import threading

    from studio.chat.engine import Engine
    from studio.evaluation.judges.client import EndpointJudge, make_judge
    from studio.evaluation.judges.job import JobSpec, run_job

    engine = Engine()
    local = make_judge(str(tiny_model_dir), engine=engine)
    local.max_tokens = 8
    assert local.name.endswith("(local)")
    reply = local.complete([{"role": "user", "content": "Rate this. [[rating]]"}])
    assert reply.prompt_tokens > 0 and 0 < reply.completion_tokens <= 8
    stop = threading.Event()
    spec = JobSpec(model=str(tiny_model_dir), judge=server.url, bench=str(prompts), max_new_tokens=8,
                   concurrency=1)

    def progress(phase, done, total, counts):
        if phase == "judging" and done == 1:
            stop.set()  # Cancel after the first verdict

    result = run_job(spec, engine=engine, judge=EndpointJudge(server.url, "shorter", retries=0),
                     progress=progress,
                     stop=stop)
    assert result["stopped"] and result["n"] == 1 and len(_records(result)) == 1
