"""A deck of questions to vote on: MT-Bench's two turns in one conversation, a prompt file, the panels."""

from __future__ import annotations

import json

import pytest

from studio.evaluation.deck import DeckError, advance, load_deck
from studio.ui.judge import chat_tab, deck_panel, leaderboard_panel


def test_mt_bench_steps_through_both_turns_then_the_next_question():
    deck = load_deck("mt-bench")
    assert len(deck.questions) == 80
    first, second, third = advance(deck), advance(deck), advance(deck)
    assert first.new_conversation and not second.new_conversation and third.new_conversation
    assert (first.message, second.message) == tuple(deck.questions[0]["turns"])
    assert third.message == deck.questions[1]["turns"][0]
    assert first.label == "MT-Bench: question 1 of 80 (writing), turn 1 of 2"


def test_a_prompt_file_is_a_deck_one_per_line_or_jsonl(tmp_path):
    lines = tmp_path / "mine.txt"
    lines.write_text("What is 2 + 2?\n\nName a colour.\n")
    deck = load_deck(str(lines))
    assert [advance(deck).message, advance(deck).message] == ["What is 2 + 2?", "Name a colour."]
    with pytest.raises(DeckError, match="last of the 2 questions"):
        advance(deck)
    rows = tmp_path / "mine.jsonl"
    rows.write_text(json.dumps({"turns": ["Hi", "And then?"]}) + "\n" + json.dumps({"prompt": "Bye"}) + "\n")
    assert [q["turns"] for q in load_deck(str(rows)).questions] == [["Hi", "And then?"], ["Bye"]]
    rows.write_text(json.dumps({"answer": "x"}) + "\n")
    with pytest.raises(DeckError, match="Line 1"):
        load_deck(str(rows))
    with pytest.raises(DeckError, match="No prompt file"):
        load_deck(str(tmp_path / "missing.txt"))


def test_next_question_sends_both_turns_to_both_sides_then_starts_afresh(tiny_model_dir):
    deck, said = deck_panel.load("mt-bench")
    assert deck is not None and "80 questions" in said
    model = str(tiny_model_dir)
    arena = None
    for turn in (1, 2, 1):
        values = {"arena": arena, "deck": deck, "pick_a": model, "pick_b": model, "blind": False,
                  "base": "embedded",
                  "trust": True, "max_new_tokens": 4, "message": ""}
        last = list(deck_panel.next_question(chat_tab.send, chat_tab.ChatForm, values))[-1]
        arena, label = last["arena"], last["deck_status"]
        assert f"turn {turn} of 2" in label
        assert sum(m["role"] == "user" for m in arena.a) == turn == sum(m["role"] == "user" for m in arena.b)
        assert arena.a[-1]["role"] == "assistant" and arena.b[-1]["role"] == "assistant"
    assert arena.a[0]["content"] == deck.questions[1]["turns"][0]


def test_the_leaderboard_panel_shows_ratings_from_blind_votes(studio_home):
    from studio.chat import feedback

    assert "No blind votes yet" in leaderboard_panel.board_markdown()
    for winner, loser in (("run:a", "base"), ("run:a", "base"), ("base", "run:a")):
        feedback.append_row(feedback.feedback_path(), feedback.preference_row(
            [], "x", "y", winner, loser, blind=True, conversation="c", turn=1))
    table = leaderboard_panel.board_markdown()
    assert table.index("run:a") < table.index("base") and "From 3 blind votes." in table
