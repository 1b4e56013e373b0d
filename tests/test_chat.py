"""Chat arena: histories and truncation, blind shuffling, the vote file, and the tab's handlers on a real
tiny model (hidden size 16) so every answer is truly generated and streamed."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from studio.chat import arena as arena_mod
from studio.chat import feedback
from studio.chat.history import ChatError, fit_context, turns, with_user, without_last_answer
from studio.chat.sources import BASE, default_source, parse_source
from studio.ui import chat_tab

ROOT = Path(__file__).resolve().parent.parent
# system, temperature, top_p, max new tokens, repetition penalty, seed: greedy and short.
FAST = ("", 0.0, 1.0, 6, 1.0, 0)


def user(text):
    return {"role": "user", "content": text}


def bot(text):
    return {"role": "assistant", "content": text}


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory, tiny_model_dir) -> Path:
    """A run-like adapter on the tiny model, with non-zero LoRA weights so it answers differently."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = tmp_path_factory.mktemp("tiny-run") / "adapter"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                                      init_lora_weights=False))
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    (adapter / "studio_base.json").write_text(json.dumps({"model": str(tiny_model_dir), "base_model": "tiny"}))
    return adapter


def chat(message, arena, pick_a, pick_b, settings=FAST, blind=False, context=None, settings_b=None):
    """Drive the tab's send handler to the end; returns (every yield, the final yield)."""
    steps = list(chat_tab.send(message, arena, pick_a, pick_b, blind, "embedded", settings_b is None, *settings,
                               *(settings_b or FAST), False, context))
    return steps, steps[-1]


# ---- histories and the context ----------------------------------------------------------------------
def test_history_turns_and_retry_point():
    history = [user("hi"), bot("hello"), user("how are you?"), bot("fine")]
    assert [len(t) for t in turns(history)] == [2, 2]
    assert without_last_answer(history) == history[:3]
    with pytest.raises(ChatError, match="Type a message"):
        with_user(history, "   ")
    with pytest.raises(ChatError, match="retry"):
        without_last_answer([])


def test_fit_context_drops_oldest_whole_turns(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    history = []
    for i in range(6):
        history += [user(f"What is the capital of France? ({i})"), bot("The capital of France is Paris.")]
    history.append(user("And the answer?"))
    whole = fit_context(tok, history, "Be brief.", 16, 10_000)
    assert whole.dropped_turns == 0 and len(whole.messages) == len(history) + 1
    fitted = fit_context(tok, history, "Be brief.", 16, whole.prompt_tokens // 2 + 16)
    assert fitted.dropped_turns > 0 and fitted.prompt_tokens <= whole.prompt_tokens // 2
    kept = fitted.messages
    assert kept[0] == {"role": "system", "content": "Be brief."}  # the system prompt is never dropped
    assert kept[1]["role"] == "user" and kept[-1] == history[-1]
    assert kept[1:] == history[2 * fitted.dropped_turns:]
    with pytest.raises(ChatError, match="shorten it"):
        fit_context(tok, [user("pizza " * 300)], "", 16, 64)


# ---- blind shuffling --------------------------------------------------------------------------------
def test_blind_shuffle_is_per_conversation():
    rng = random.Random(7)
    swaps = [arena_mod.new_conversation(("run:x", BASE), True, rng).swap for _ in range(200)]
    assert 60 < sum(swaps) < 140  # both orders happen, about equally
    assert not any(arena_mod.new_conversation(("run:x", BASE), False, rng).swap for _ in range(50))
    arena = next(a for a in (arena_mod.new_conversation(("run:x", BASE), True, rng) for _ in range(50)) if a.swap)
    assert arena.pane_specs() == {"a": BASE, "b": "run:x"}
    arena.a, arena.b = [user("hi"), bot("1")], [user("hi"), bot("2")]
    assert arena_mod.begin_turn(arena, ("run:x", BASE), True, rng) is arena  # the sides stay put
    with pytest.raises(ChatError, match="Clear"):
        arena_mod.begin_turn(arena, (BASE, BASE), True, rng)
    arena.labels = {"a": "base model (embedded)", "b": "my-run"}
    assert "hidden" in arena.pane_title("a") and "my-run" not in arena.pane_title("b")
    arena_mod.vote(arena, "tie")
    assert arena.pane_title("b") == "Model B: my-run"  # revealed after the vote


# ---- votes become data ------------------------------------------------------------------------------
def _voted_arena():
    arena = arena_mod.new_conversation(("run:x", BASE), blind=True, rng=random.Random(1))
    arena.a = [user("Is pineapple on pizza a crime?"), bot("No, it is a matter of taste."), user("Sure?"), bot("Yes.")]
    arena.b = [user("Is pineapple on pizza a crime?"), bot("Yes, a grave one."), user("Sure?"), bot("Absolutely.")]
    arena.labels = {"a": "model-a", "b": "model-b"}
    return arena


def test_decisive_vote_is_one_preference_row_and_ties_stay_apart():
    arena = _voted_arena()
    said = arena_mod.vote(arena, "b", {"a": "", "b": "Be brief."})
    assert "A was model-a, B was model-b" in said
    rows = [json.loads(line) for line in feedback.feedback_path().read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["prompt"] == [{"role": "system", "content": "Be brief."}, *arena.b[:-1]]
    assert row["chosen"] == [bot("Absolutely.")] and row["rejected"] == [bot("Yes.")]
    assert (row["chosen_model"], row["rejected_model"], row["blind"], row["turn"]) == ("model-b", "model-a", True, 2)
    with pytest.raises(ChatError, match="already voted"):
        arena_mod.vote(arena, "a")
    same = _voted_arena()
    same.b[-1] = bot("Yes.")
    with pytest.raises(ChatError, match="identical"):  # chosen == rejected teaches nothing
        arena_mod.vote(same, "a")
    other = _voted_arena()
    arena_mod.vote(other, "both-bad")
    assert feedback.count_rows() == 1  # never a pair
    extra = json.loads(feedback.other_votes_path().read_text())
    assert extra["vote"] == "both-bad" and extra["a"]["answer"] == "Yes."
    from studio.data.inspect import inspect_source

    report = inspect_source(str(feedback.feedback_path()))
    assert report.kind == "preference" and report.valid_rows == 1, report.to_json()


WRITER = """
import sys
from studio.chat import feedback
tag = sys.argv[1]
for i in range(60):
    # Rows bigger than a pipe buffer (64 KiB) would interleave without the lock.
    feedback.append_row(feedback.feedback_path(), {"prompt": [{"role": "user", "content": tag * 70000}],
                        "chosen": [{"role": "assistant", "content": f"{tag}{i}"}], "rejected": []})
"""


def test_concurrent_votes_from_several_processes_never_interleave(studio_home):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag], cwd=ROOT) for tag in "wxyz"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    lines = feedback.feedback_path().read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # every line is one whole row
    assert len(rows) == 240
    for tag in "wxyz":
        assert sorted(int(r["chosen"][0]["content"][1:]) for r in rows if r["chosen"][0]["content"][0] == tag) \
            == list(range(60))


# ---- the tab's handlers on a real tiny model -----------------------------------------------------------
def test_two_turns_stream_into_both_panes_with_one_base_in_memory(tiny_model_dir, tiny_adapter):
    arena = None
    for text in ("Is pineapple on pizza a crime?", "What is the capital of France?"):
        steps, last = chat(text, arena, str(tiny_model_dir), str(tiny_adapter))
        arena = last[4]
        assert len(steps) > 6  # piece by piece, not one final block
        assert steps[0][5] == ""  # the message box is emptied at once
    assert [m["role"] for m in arena.a] == ["user", "assistant"] * 2 == [m["role"] for m in arena.b]
    assert arena.labels == {"a": Path(tiny_model_dir).name, "b": Path(tiny_adapter).parent.name}
    assert chat_tab.models().loaded_bases() == 1  # base and adapter share one copy
    assert arena.a[1]["content"] != arena.b[1]["content"]  # the adapter really answered
    retried = list(chat_tab.retry(arena, "embedded", True, "", 0.7, 0.9, 6, 1.0, 0))[-1][4]
    assert len(retried.a) == 4 and retried.attempt == 1
    status = chat_tab.vote_a(retried, True, "", "")[2]
    assert "Saved" in status and feedback.count_rows() == 1


def test_long_history_drops_oldest_turns_with_a_notice(tiny_model_dir):
    arena = None
    for i in range(4):
        _, last = chat(f"Tell me about pizza and Paris, part {i}.", arena, str(tiny_model_dir), str(tiny_model_dir),
                       context=90)
        arena = last[4]
    assert "oldest" in last[2] and "90-token context" in last[2]
    assert len(arena.a) == 8  # the pane still shows every turn


def test_bad_inputs_say_one_sentence_in_their_pane_only(tiny_model_dir, tmp_path):
    steps, last = chat("  ", None, str(tiny_model_dir), BASE)
    assert "Type a message" in last[2] and len(steps) == 1
    _, last = chat("Hello?", None, str(tiny_model_dir), "run:deleted-run")
    arena = last[4]
    assert "no longer exists" in last[3] and arena.b == []  # pane B untouched
    assert len(arena.a) == 2 and not last[2].startswith("⚠")
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _, last = chat("Hello?", None, str(broken), str(tiny_model_dir))
    assert last[2].startswith("⚠ Could not") and last[2].count(".") <= 3 and last[4].a == []
    assert len(last[4].b) == 2
    bad = ("", 0.0, 1.0, 6, -1.0, 0)  # transformers refuses a negative repetition penalty while generating
    _, last = chat("Hello?", None, str(tiny_model_dir), str(tiny_model_dir), settings=FAST, settings_b=bad)
    assert "failed while answering" in last[3] and last[4].b == [] and len(last[4].a) == 2


@pytest.mark.slow
def test_stop_keeps_the_answer_so_far():
    """The embedded model, because the tiny one finishes 400 tokens before Stop could arrive."""
    slow = ("", 0.0, 1.0, 400, 1.0, 0)
    gen = chat_tab.send("Tell me a very long story about pizza.", None, BASE, BASE, False, "embedded", True,
                        *slow, *FAST, False, None)
    for out in gen:
        arena = out[4]
        if arena.a and arena.a[-1]["role"] == "assistant" and arena.a[-1]["content"]:
            chat_tab.stop(arena)  # what the Stop button calls, from another request
            break
    last = list(gen)[-1]
    assert "Stopped" in last[2] and last[4].a[-1]["role"] == "assistant"
    from transformers import AutoTokenizer

    from studio.models.loading import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("embedded").path)
    said = len(tokenizer(last[4].a[-1]["content"])["input_ids"])
    assert 0 < said < 100, said  # stopped within a few tokens, far short of 400


def test_sources_default_and_missing(tiny_model_dir, tmp_path):
    assert default_source() == BASE  # a fresh install talks to the base model
    assert parse_source(BASE, "embedded").adapter is None
    assert parse_source(str(tiny_model_dir)).base == str(tiny_model_dir)
    with pytest.raises(ChatError, match="does not exist"):
        parse_source(str(tmp_path / "missing.gguf"))
    with pytest.raises(ChatError, match="not a model"):
        parse_source("no-such-thing")


def test_different_bases_load_one_after_the_other_and_are_freed(tiny_model_dir, tmp_path):
    from tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other-tiny", seed=1)
    _, last = chat("Hello?", None, str(tiny_model_dir), str(other))
    assert len(last[4].a) == 2 and len(last[4].b) == 2
    assert chat_tab.models().loaded_bases() == 2
    chat("Hello?", None, str(other), str(other))
    assert chat_tab.models().loaded_bases() == 1  # the base no side uses any more is let go


def _studio(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, input=stdin, capture_output=True, check=False,
                          text=True, timeout=180)


def test_terminal_conversation_with_two_models_and_the_one_shot_prompt(tiny_model_dir, tiny_adapter):
    done = _studio("chat", str(tiny_model_dir), "--compare", str(tiny_adapter), "--max-new-tokens", "4",
                   stdin="Is pineapple on pizza a crime?\n/retry\n\nAnd now?\n/quit\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    run_label = f"[{tiny_adapter.parent.name}]"
    assert out.count(f"[{tiny_model_dir.name}]") == 3 and out.count(run_label) == 3  # two turns and a retry
    assert "Type a message first." in out and out.rstrip().endswith("Bye.")
    gone = _studio("chat", "run:deleted", stdin="hi\n")
    assert gone.returncode == 2 and gone.stderr.strip() == "error: The run deleted no longer exists; pick another model."
    once = _studio("chat", str(tiny_adapter.parent), "--prompt", "Hi", "--json", "--max-new-tokens", "3")
    assert once.returncode == 0, once.stderr
    assert set(json.loads(once.stdout.strip().splitlines()[-1])) == {"before", "after"}


def test_data_tab_offers_the_votes_with_their_count():
    from studio.ui import data_tab

    assert "No votes yet" in data_tab.use_chat_votes()[1]
    arena_mod.vote(_voted_arena(), "a")
    source, said = data_tab.use_chat_votes()
    assert source == str(feedback.feedback_path()) and said.startswith("✓ 1 preference pair ")


def test_two_tabs_chatting_at_once_share_the_models_safely(tiny_model_dir, tiny_adapter):
    """Two conversations in two threads (two browser tabs): one lock serialises adapter switching, each
    reader is resumed wherever it happens to run, and both get their own complete answers."""
    from concurrent.futures import ThreadPoolExecutor

    def one_tab(text):
        return chat(text, None, str(tiny_adapter), str(tiny_model_dir))[1][4]

    with ThreadPoolExecutor(2) as pool:
        arenas = list(pool.map(one_tab, ["Is pineapple on pizza a crime?", "What is the capital of France?"]))
    for arena in arenas:
        assert [m["role"] for m in arena.a] == ["user", "assistant"] == [m["role"] for m in arena.b]
    alone = chat("Is pineapple on pizza a crime?", None, str(tiny_adapter), str(tiny_model_dir))[1][4]
    assert alone.a == arenas[0].a and alone.b == arenas[0].b  # greedy: the same answer as without company


def test_second_base_is_refused_when_it_cannot_fit(tiny_model_dir, tmp_path):
    """The fit check, with real numbers: a folder whose weights are larger than this machine's free memory."""
    from studio.chat import engine

    free = engine._free_bytes()
    assert free and free > 0
    huge = tmp_path / "huge-model"
    huge.mkdir()
    (huge / "config.json").write_text(json.dumps({"dtype": "bfloat16"}))
    with (huge / "model.safetensors").open("wb") as fh:  # sparse: no disk is used
        fh.truncate(free)
    assert engine._weights_bytes(str(huge)) == 2 * free
    _, last = chat("Hello?", None, str(tiny_model_dir), str(huge))
    assert "GiB is free" in last[3] and last[4].b == [] and len(last[4].a) == 2


def test_blind_send_hides_the_names_until_the_vote(tiny_model_dir, tiny_adapter):
    _, last = chat("Is pineapple on pizza a crime?", None, str(tiny_model_dir), str(tiny_adapter), blind=True)
    assert "hidden until you vote" in last[0]["label"] and "hidden until you vote" in last[1]["label"]
    pane_a, pane_b, status, arena = chat_tab.vote_b(last[4], True, "", "")
    names = {Path(tiny_model_dir).name, Path(tiny_adapter).parent.name}
    assert {pane_a["label"].split(": ", 1)[1], pane_b["label"].split(": ", 1)[1]} == names
    row = json.loads(feedback.feedback_path().read_text())
    assert row["blind"] is True and row["chosen_model"] == arena.labels["b"] and "B is better" in status


def test_side_one_follows_the_newest_finished_run_until_the_user_picks_another(tiny_adapter):
    import shutil

    from studio.runs import files
    from studio.runs.registry import runs_dir

    first = chat_tab.refresh_picks(None, None, "embedded", None)
    assert first[0]["value"] == BASE and first[3] == BASE  # nothing trained yet: the base, picked automatically
    run_dir = runs_dir() / "20261125-000000-demo"  # a finished run, as the worker leaves it on disk
    shutil.copytree(tiny_adapter, run_dir / "adapter")
    files.write_status(run_dir, {"id": run_dir.name, "name": "demo", "method": "dpo", "state": "completed",
                                 "step": 1, "total": 1, "created": 1.0})
    followed = chat_tab.refresh_picks(BASE, BASE, "embedded", first[3])
    assert followed[0]["value"] == f"run:{run_dir.name}" and followed[3] == f"run:{run_dir.name}"
    kept = chat_tab.refresh_picks(str(tiny_adapter), BASE, "embedded", followed[3])  # the user's own pick stays
    assert kept[0]["value"] == str(tiny_adapter) and kept[3] == followed[3]
