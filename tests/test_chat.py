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
from studio.chat.engine import shared
from studio.chat.history import ChatError, fit_context, turns, with_user, without_last_answer
from studio.chat.sources import BASE, default_source, parse_source
from studio.ui.judge import chat_tab
from studio.ui.judge.chat_tab import ChatForm

ROOT = Path(__file__).resolve().parent.parent
# One side's settings, by the names the tab gives them: greedy and short.
FAST = {"system": "", "temperature": 0.0, "top_p": 1.0, "max_new_tokens": 6, "repetition_penalty": 1.0,
        "seed": 0}


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
    (adapter / "studio_base.json").write_text(json.dumps({"model": str(tiny_model_dir),
                                                          "base_model": "tiny"}))
    return adapter


def form(message, arena, pick_a, pick_b, settings=FAST, blind=False, context=None,
         settings_b=None) -> ChatForm:
    """What the Chat tab hands its handlers: side 2's settings end in _b (shared unless given)."""
    side_b = {f"{k}_b": v for k, v in (settings_b or FAST).items()}
    return ChatForm(message=message, arena=arena, pick_a=pick_a, pick_b=pick_b, blind=blind, base="embedded",
                    shared=settings_b is None, context=context, **settings, **side_b)


def chat(message, arena, pick_a, pick_b, settings=FAST, blind=False, context=None, settings_b=None):
    """Drive the tab's send handler to the end; returns (every yield, the final yield), each by name."""
    steps = list(chat_tab.send(form(message, arena, pick_a, pick_b, settings, blind, context, settings_b)))
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
    arena = next(a for a in (arena_mod.new_conversation(("run:x", BASE), True,
                                                        rng) for _ in range(50)) if a.swap)
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
    arena.a = [user("Is pineapple on pizza a crime?"), bot("No, it is a matter of taste."), user("Sure?"),
               bot("Yes.")]
    arena.b = [user("Is pineapple on pizza a crime?"), bot("Yes, a grave one."), user("Sure?"),
               bot("Absolutely.")]
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
    assert (row["chosen_model"], row["rejected_model"], row["blind"], row["turn"]) == ("model-b", "model-a",
                                                                                       True, 2)
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
        tagged = [r["chosen"][0]["content"] for r in rows if r["chosen"][0]["content"][0] == tag]
        assert sorted(int(content[1:]) for content in tagged) == list(range(60))


# ---- the tab's handlers on a real tiny model -----------------------------------------------------------
def test_two_turns_stream_into_both_panes_with_one_base_in_memory(tiny_model_dir, tiny_adapter):
    arena = None
    for text in ("Is pineapple on pizza a crime?", "What is the capital of France?"):
        steps, last = chat(text, arena, str(tiny_model_dir), str(tiny_adapter))
        arena = last["arena"]
        assert len(steps) > 6  # piece by piece, not one final block
        assert steps[0]["message"] == ""  # the message box is emptied at once
    assert [m["role"] for m in arena.a] == ["user", "assistant"] * 2 == [m["role"] for m in arena.b]
    assert arena.labels == {"a": Path(tiny_model_dir).name, "b": Path(tiny_adapter).parent.name}
    assert shared().loaded_bases() == 1  # base and adapter share one copy
    assert arena.a[1]["content"] != arena.b[1]["content"]  # the adapter really answered
    retried = list(chat_tab.retry(ChatForm(arena=arena, **{**FAST, "temperature": 0.7,
                                                           "top_p": 0.9})))[-1]["arena"]
    assert len(retried.a) == 4 and retried.attempt == 1
    status = chat_tab.vote_a(ChatForm(arena=retried))["status"]
    assert "Saved" in status and feedback.count_rows() == 1


def test_long_history_drops_oldest_turns_with_a_notice(tiny_model_dir):
    arena = None
    for i in range(4):
        _, last = chat(f"Tell me about pizza and Paris, part {i}.", arena, str(tiny_model_dir),
                       str(tiny_model_dir),
                       context=90)
        arena = last["arena"]
    assert "oldest" in last["note_a"] and "90-token context" in last["note_a"]
    assert len(arena.a) == 8  # the pane still shows every turn


def test_bad_inputs_say_one_sentence_in_their_pane_only(tiny_model_dir, tmp_path):
    steps, last = chat("  ", None, str(tiny_model_dir), BASE)
    assert "Type a message" in last["note_a"] and len(steps) == 1
    _, last = chat("Hello?", None, str(tiny_model_dir), "run:deleted-run")
    arena = last["arena"]
    assert "no longer exists" in last["note_b"] and arena.b == []  # pane B untouched
    assert len(arena.a) == 2 and not last["note_a"].startswith("⚠")
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _, last = chat("Hello?", None, str(broken), str(tiny_model_dir))
    assert last["note_a"].startswith("⚠ Could not") and last["note_a"].count(".") <= 3
    assert last["arena"].a == []
    assert len(last["arena"].b) == 2
    # transformers refuses a negative repetition penalty while generating
    bad = {**FAST, "repetition_penalty": -1.0}
    _, last = chat("Hello?", None, str(tiny_model_dir), str(tiny_model_dir), settings=FAST, settings_b=bad)
    assert "failed while answering" in last["note_b"] and last["arena"].b == [] and len(last["arena"].a) == 2


@pytest.mark.slow
def test_stop_keeps_the_answer_so_far():
    """The embedded model, because the tiny one finishes 400 tokens before Stop could arrive."""
    slow = {**FAST, "max_new_tokens": 400}
    gen = chat_tab.send(form("Tell me a very long story about pizza.", None, BASE, BASE, settings=slow))
    for out in gen:
        arena = out["arena"]
        if arena.a and arena.a[-1]["role"] == "assistant" and arena.a[-1]["content"]:
            chat_tab.stop(ChatForm(arena=arena))  # what the Stop button calls, from another request
            break
    last = list(gen)[-1]
    assert "Stopped" in last["note_a"] and last["arena"].a[-1]["role"] == "assistant"
    from transformers import AutoTokenizer

    from studio.models.loading import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("embedded").path)
    said = len(tokenizer(last["arena"].a[-1]["content"])["input_ids"])
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
    assert len(last["arena"].a) == 2 and len(last["arena"].b) == 2
    assert shared().loaded_bases() == 2
    chat("Hello?", None, str(other), str(other))
    assert shared().loaded_bases() == 1  # the base no side uses any more is let go


def _studio(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=ROOT, input=stdin, capture_output=True,
                          check=False,
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
    assert gone.returncode == 2 and gone.stderr.strip() == ("error: The run deleted no longer exists; pick "
                                                            "another model.")
    once = _studio("chat", str(tiny_adapter.parent), "--prompt", "Hi", "--json", "--max-new-tokens", "3")
    assert once.returncode == 0, once.stderr
    assert set(json.loads(once.stdout.strip().splitlines()[-1])) == {"before", "after"}


def test_data_tab_offers_the_votes_with_their_count():
    from studio.ui.make import data_tab

    assert "No votes yet" in data_tab.use_chat_votes()[1]
    arena_mod.vote(_voted_arena(), "a")
    source, said = data_tab.use_chat_votes()
    assert source == str(feedback.feedback_path()) and said.startswith("✓ 1 preference pair ")


def test_two_tabs_chatting_at_once_share_the_models_safely(tiny_model_dir, tiny_adapter):
    """Two conversations in two threads (two browser tabs): one lock serialises adapter switching, each
    reader is resumed wherever it happens to run, and both get their own complete answers."""
    from concurrent.futures import ThreadPoolExecutor

    def one_tab(text):
        return chat(text, None, str(tiny_adapter), str(tiny_model_dir))[1]["arena"]

    with ThreadPoolExecutor(2) as pool:
        arenas = list(pool.map(one_tab, ["Is pineapple on pizza a crime?", "What is the capital of France?"]))
    for arena in arenas:
        assert [m["role"] for m in arena.a] == ["user", "assistant"] == [m["role"] for m in arena.b]
    alone = chat("Is pineapple on pizza a crime?", None, str(tiny_adapter), str(tiny_model_dir))[1]["arena"]
    assert alone.a == arenas[0].a and alone.b == arenas[0].b  # greedy: the same answer as without company


def test_second_base_is_refused_when_it_cannot_fit(tiny_model_dir, tmp_path):
    """The fit check, with real numbers: a folder whose weights are larger than this machine's free memory."""
    from studio.models import cache

    free = cache.free_bytes()
    assert free and free > 0
    huge = tmp_path / "huge-model"
    huge.mkdir()
    (huge / "config.json").write_text(json.dumps({"dtype": "bfloat16"}))
    with (huge / "model.safetensors").open("wb") as fh:  # sparse: no disk is used
        fh.truncate(free)
    assert cache.weights_bytes(str(huge)) == 2 * free
    _, last = chat("Hello?", None, str(tiny_model_dir), str(huge))
    assert "GiB is free" in last["note_b"] and last["arena"].b == [] and len(last["arena"].a) == 2


def test_blind_send_hides_the_names_until_the_vote(tiny_model_dir, tiny_adapter):
    _, last = chat("Is pineapple on pizza a crime?", None, str(tiny_model_dir), str(tiny_adapter), blind=True)
    assert all("hidden until you vote" in last[pane]["label"] for pane in ("pane_a", "pane_b"))
    voted = chat_tab.vote_b(ChatForm(arena=last["arena"]))
    pane_a, pane_b, status, arena = voted["pane_a"], voted["pane_b"], voted["status"], voted["arena"]
    names = {Path(tiny_model_dir).name, Path(tiny_adapter).parent.name}
    assert {pane_a["label"].split(": ", 1)[1], pane_b["label"].split(": ", 1)[1]} == names
    row = json.loads(feedback.feedback_path().read_text())
    assert row["blind"] is True and row["chosen_model"] == arena.labels["b"] and "B is better" in status


def test_side_one_follows_the_newest_finished_run_until_the_user_picks_another(tiny_adapter):
    import shutil

    from studio.runs import files
    from studio.runs.registry import runs_dir

    def refresh(pick_a, pick_b, auto_a):
        return chat_tab.refresh_picks(ChatForm(pick_a=pick_a, pick_b=pick_b, base="embedded", auto_a=auto_a))

    first = refresh(None, None, None)
    # nothing trained yet: the base, picked automatically
    assert first["pick_a"]["value"] == BASE and first["auto_a"] == BASE
    run_dir = runs_dir() / "20261125-000000-demo"  # a finished run, as the worker leaves it on disk
    shutil.copytree(tiny_adapter, run_dir / "adapter")
    files.update_status(run_dir, new=True, id=run_dir.name, name="demo", method="dpo", state="completed",
                        step=1, total=1, created=1.0)
    followed = refresh(BASE, BASE, first["auto_a"])
    assert followed["pick_a"]["value"] == followed["auto_a"] == f"run:{run_dir.name}"
    kept = refresh(str(tiny_adapter), BASE, followed["auto_a"])  # the user's own pick stays: no value sent
    assert "value" not in kept["pick_a"] and kept["auto_a"] == followed["auto_a"]
    # Opening Judge refreshes twice (Judge, then its Arena): the second call may see the State the first
    # one updated beside the dropdown's value from before it. It must not write that old value back.
    stale = refresh(BASE, BASE, followed["auto_a"])
    assert "value" not in stale["pick_a"] and stale["auto_a"] == followed["auto_a"]


# ---- saying what it does, never who it is (issue 19) ------------------------------------------------
def test_each_pane_says_its_stage_and_how_far_along_it_is(tiny_model_dir):
    """Loading (with the seconds so far), reading the conversation, then the tokens written of the most
    allowed; the final note is empty when all went well."""
    shared().release()  # a model nobody loaded yet: the first message has to wait for it
    steps, last = chat("Is pineapple on pizza a crime?", None, str(tiny_model_dir), str(tiny_model_dir))
    notes = [s["note_a"] for s in steps if "note_a" in s]
    assert any(n.startswith("… Reading the conversation (") for n in notes), notes
    written = [n for n in notes if n.startswith("… Writing: ")]
    assert written and all(n.endswith("of at most 6 tokens") for n in written)
    counts = [int(n.split()[2]) for n in written]
    assert counts == sorted(counts) and 1 <= counts[-1] <= 6
    assert last["note_a"] == "" and last["note_b"] == ""


def test_loading_says_how_long_it_has_waited():
    """The stage note of a load is made while the load runs, from the seconds `waiting` reports."""
    import time

    from studio.chat.engine import waiting

    ticks, gen = [], waiting(lambda: time.sleep(1.3) or "loaded", every=0.5)
    while True:
        try:
            ticks.append(next(gen))
        except StopIteration as done:
            result = done.value
            break
    assert result == "loaded" and len(ticks) >= 2 and ticks == sorted(ticks) and ticks[-1] < 1.3
    with pytest.raises(ChatError, match="broken"):
        list(waiting(lambda: (_ for _ in ()).throw(ChatError("broken"))))


def test_blind_errors_never_name_the_model_before_the_vote(tiny_model_dir, tmp_path):
    """A pane that fails to load, and one that fails while answering, say what went wrong without the
    name, the folder or the run of the model behind them; after the vote the names show."""
    broken = tmp_path / "secret-broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    steps, last = chat("Hello?", None, str(broken), str(tiny_model_dir), blind=True)
    failed = "a" if last["arena"].a == [] else "b"
    note = last[f"note_{failed}"]
    assert note.startswith("⚠ Could not read the tokenizer in this pane's model") and ("not a valid "
                                                                                       "JSON") in note
    shown = " ".join(str(v) for s in steps for k, v in s.items() if k in ("note_a", "note_b", "status"))
    labels = " ".join(str(s[p]["label"]) for s in steps for p in ("pane_a", "pane_b"))
    for name in ("secret-broken-model", str(broken), tiny_model_dir.name):
        assert name not in shown and name not in labels
    bad = {**FAST, "repetition_penalty": -1.0}  # fails while answering, after the model loaded
    _, last = chat("Hello?", None, str(tiny_model_dir), str(tiny_model_dir), settings=FAST, settings_b=bad,
                   blind=True)
    arena = last["arena"]
    failed = "a" if arena.swap else "b"  # side 2 carries the bad settings
    assert last[f"note_{failed}"] == ("⚠ this pane's model failed while answering (ValueError); the details "
                                      "are in the studio log.")
    assert tiny_model_dir.name not in last[f"note_{failed}"]
    _, unblind = chat("Hello?", None, str(tiny_model_dir), str(tiny_model_dir), settings=FAST, settings_b=bad)
    assert tiny_model_dir.name in unblind["note_b"]  # outside blind mode the sentence names it


def test_a_message_sent_while_both_panes_answer_gets_a_sentence(tiny_model_dir):
    first = chat_tab.send(form("Is pineapple on pizza a crime?", None, str(tiny_model_dir),
                               str(tiny_model_dir)))
    arena = None
    for out in first:
        arena = out["arena"]
        if arena.a and arena.a[-1]["role"] == "assistant":
            break  # pane A is writing now
    again = list(chat_tab.send(form("And pizza with ham?", arena, str(tiny_model_dir), str(tiny_model_dir))))
    assert again == [{"status": chat_tab.BUSY_SENTENCE}]  # nothing else changes: the box keeps the text
    assert "press Enter again when they finish" in chat_tab.BUSY_SENTENCE
    last = list(first)[-1]
    assert [m["role"] for m in last["arena"].b] == ["user", "assistant"]
    _, after = chat("And pizza with ham?", last["arena"], str(tiny_model_dir), str(tiny_model_dir))
    assert len(after["arena"].a) == 4  # once they finished, the same message goes through


def test_a_batch_of_prompts_gets_the_answers_each_prompt_gets_alone(tiny_adapter):
    """The demo, `studio eval --prompts`, the RLHF vs DPO tab and `studio bench` answer a list of prompts
    in one left-padded batch: greedy, each row says what its prompt gets alone, adapter off and on, and
    the stream shows every row at every step."""
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling

    pair = BeforeAfter(tiny_adapter.parent)
    # unequal lengths
    prompts = ["hi", "is pineapple on pizza a crime under the law of any country", "tell me"]
    sampling = Sampling(max_new_tokens=8)
    answers = {}
    for tuned in (False, True):
        answers[tuned] = pair.answer_many(prompts, tuned, sampling)
        assert answers[tuned] == [pair.answer(p, tuned, sampling) for p in prompts]
        generation = pair.stream_many(prompts, tuned, sampling)
        steps = list(generation)
        assert steps[-1] == answers[tuned] and generation.tokens == len(steps) <= 8
        assert all(len(step) == len(prompts) for step in steps)
    assert answers[False] != answers[True], "the adapter changed no answer"
    assert all(answers[False]) and all(answers[True])
