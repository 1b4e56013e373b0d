"""Ranked, scored and judged answers become preference pairs by each dataset card's rule; ties give none."""

import pytest
from jsonl_files import write_jsonl

from studio.config import DataConfig
from studio.data import DataError, load_training_data
from studio.data.layouts.normalise import normalise
from studio.data.read.source import read_source
from studio.methods import data_asked

GOOD, BAD, MID = "Pineapple on pizza is legal.", "It is a war crime.", "It depends on the country."

# Layouts as the cards show them (berkeley-nest/Nectar, openbmb/UltraFeedback, stanfordnlp/SHP,
# PKU-Alignment/PKU-SafeRLHF, lmsys/chatbot_arena_conversations); texts are made up.
NECTAR = [
    {"prompt": "\n\nHuman: Is pineapple on pizza a crime?\n\nAssistant:", "turns": 1, "num_responses": 3,
     "answers": [{"answer": MID, "model": "a", "rank": 2.0}, {"answer": BAD, "model": "b", "rank": 3.0},
                 {"answer": GOOD, "model": "c", "rank": 1.0}], "source": ["x"], "good_natured": True},
    {"prompt": "\n\nHuman: Tie?\n\nAssistant:", "turns": 1, "num_responses": 2,
     "answers": [{"answer": GOOD, "model": "a", "rank": 1.0}, {"answer": BAD, "model": "b", "rank": 1.0}]},
]
ULTRAFEEDBACK = [
    {"source": "evol", "instruction": "Is pineapple on pizza a crime?", "models": ["a", "b", "c"],
     "completions": [{"model": "a", "response": MID, "overall_score": 6.5},
                     {"model": "b", "response": GOOD, "overall_score": 9.0},
                     {"model": "c", "response": BAD, "overall_score": 2.0}], "correct_answers": [],
     "incorrect_answers": []},
    {"source": "evol", "instruction": "Unscored?", "models": ["a", "b"],
     "completions": [{"model": "a", "response": GOOD, "overall_score": None},
                     {"model": "b", "response": BAD}]},
]
SHP = [
    {"post_id": "p1", "domain": "askculinary_train", "upvote_ratio": 0.9,
     "history": "Is pineapple on pizza a crime?",
     "c_root_id_A": "a", "c_root_id_B": "b", "created_at_utc_A": 1, "created_at_utc_B": 2, "score_A": 50,
     "score_B": 3, "human_ref_A": GOOD, "human_ref_B": BAD, "labels": 1, "seconds_difference": 1.0,
     "score_ratio": 16.7},
    {"post_id": "p2", "domain": "askculinary_train", "upvote_ratio": 0.9, "history": "Second post?",
     "c_root_id_A": "a", "c_root_id_B": "b", "created_at_utc_A": 1, "created_at_utc_B": 2, "score_A": 3,
     "score_B": 50, "human_ref_A": BAD, "human_ref_B": GOOD, "labels": 0, "seconds_difference": 1.0,
     "score_ratio": 16.7},
]
PKU = [
    {"prompt": "Is pineapple on pizza a crime?", "response_0": BAD, "response_1": GOOD, "prompt_source": "x",
     "response_0_source": "a", "response_1_source": "b", "is_response_0_safe": True,
     "is_response_1_safe": True,
     "better_response_id": 1, "safer_response_id": 0},
]
ARENA = [
    {"question_id": "q1", "model_a": "a", "model_b": "b", "winner": "model_b", "judge": "j", "turn": 1,
     "conversation_a": [{"role": "user", "content": "Is pineapple on pizza a crime?"},
                        {"role": "assistant", "content": BAD}],
     "conversation_b": [{"role": "user", "content": "Is pineapple on pizza a crime?"},
                        {"role": "assistant", "content": GOOD}], "language": "English"},
    {"question_id": "q2", "model_a": "a", "model_b": "b", "winner": "tie (bothbad)", "judge": "j", "turn": 1,
     "conversation_a": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
     "conversation_b": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey"}],
     "language": "English"},
]

WEBGPT = [
    {"question": {"dataset": "eli5", "id": "1", "full_text": "Is pineapple on pizza a crime?"},
     "quotes_0": {"title": [], "extract": []}, "answer_0": BAD, "tokens_0": [], "score_0": -1.0,
     "quotes_1": {"title": [], "extract": []}, "answer_1": GOOD, "tokens_1": [], "score_1": 1.0},
    {"question": {"dataset": "eli5", "id": "2", "full_text": "Even?"}, "quotes_0": {}, "answer_0": GOOD,
     "tokens_0": [], "score_0": 0.0, "quotes_1": {}, "answer_1": BAD, "tokens_1": [], "score_1": 0.0},
]
STACK_PREFS = [
    {"qid": 1, "question": "Is pineapple on pizza a crime?", "date": "2020", "metadata": [],
     "answers": [{"answer_id": 1, "author": "a", "pm_score": 2, "selected": False, "text": MID},
                 {"answer_id": 2, "author": "b", "pm_score": 9, "selected": True, "text": GOOD},
                 {"answer_id": 3, "author": "c", "pm_score": -1, "selected": False, "text": BAD}]},
]
DISTILABEL_ORCA = [
    {"system": "", "input": "Is pineapple on pizza a crime?", "chosen": GOOD, "rejected": BAD,
     "generations": [GOOD, BAD], "order": ["a", "b"], "status": "tie", "in_gsm8k_train": False},
]

HELPSTEER3 = [
    {"domain": "general", "language": "english",
     "context": [{"role": "user", "content": "Is pineapple on pizza a crime?"}],
     "response1": BAD, "response2": GOOD, "overall_preference": 2, "individual_preference": []},
    {"domain": "general", "language": "english", "context": [{"role": "user", "content": "Tie?"}],
     "response1": GOOD, "response2": BAD, "overall_preference": 0, "individual_preference": []},
]

CASES = [("helpsteer3", HELPSTEER3, 1), ("webgpt", WEBGPT, 1), ("stack-exchange-preferences", STACK_PREFS, 1),
         ("nectar", NECTAR, 1), ("ultrafeedback-raw", ULTRAFEEDBACK, 1), ("shp", SHP, 2),
         ("pku-saferlhf", PKU, 1), ("chatbot-arena", ARENA, 1)]


@pytest.mark.parametrize("fmt,rows,pairs", CASES, ids=[c[0] for c in CASES])
def test_rated_rows_become_pairs_by_the_cards_rule(fmt, rows, pairs, tmp_path):
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    data = load_training_data(DataConfig(source=str(path)), data_asked("dpo"))
    assert (data.kind, data.format, data.errors, len(data.dataset)) == ("preference", fmt, [], pairs)
    first = data.dataset[0]
    assert first["chosen"] == [{"role": "assistant", "content": GOOD}]
    assert first["rejected"] == [{"role": "assistant", "content": BAD}]
    assert first["prompt"][-1]["role"] == "user" and "crime" in first["prompt"][-1]["content"]
    # the rule is shown with the count
    assert data.notes[0].startswith(f"{pairs} pair{'s' if pairs > 1 else ''} made by the rule: ")
    assert data.valid_rows == len(rows)  # a tie is not a broken row


@pytest.mark.parametrize("fmt,rows,why", [("nectar", NECTAR, "all answers share one rank"),
                                          ("ultrafeedback-raw", ULTRAFEEDBACK, "fewer than two completions"),
                                          ("chatbot-arena", ARENA, "the judge called a tie (bothbad)")])
def test_ties_and_missing_scores_give_no_pair_and_say_why(fmt, rows, why, tmp_path):
    norm = normalise(read_source(str(write_jsonl(tmp_path / "r.jsonl", rows))), data_asked("dpo"))
    assert norm.errors == [] and len(norm.examples) == 1
    assert norm.remarks[0]["row"] == 1 and why in norm.remarks[0]["message"]
    assert "1 rows give no pair" in norm.notes[0]


def test_input_with_chosen_and_rejected_is_a_pair(tmp_path):
    data = load_training_data(DataConfig(source=str(write_jsonl(tmp_path / "o.jsonl", DISTILABEL_ORCA))),
                              data_asked("dpo"))
    assert (data.format, len(data.dataset), data.errors) == ("instruction-preference", 1, [])
    assert data.dataset[0]["prompt"] == [{"role": "user", "content": "Is pineapple on pizza a crime?"}]


def test_system_column_joins_a_text_prompt(tmp_path):
    rows = [{"id": "1", "source": "truthy", "system": "Be honest.",
             "prompt": "Is pineapple on pizza a crime?",
             "chosen": GOOD, "rejected": BAD}]
    data = load_training_data(DataConfig(source=str(write_jsonl(tmp_path / "t.jsonl", rows))),
                              data_asked("dpo"))
    assert data.dataset[0]["prompt"] == [{"role": "system", "content": "Be honest."},
                                         {"role": "user", "content": "Is pineapple on pizza a crime?"}]


def test_llamafactory_kto_tag_without_its_dataset_info(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
             "kto_tag": True}, {"messages": [{"role": "user", "content": "Hi"},
                                             {"role": "assistant", "content": "Go away."}], "kto_tag": False}]
    data = load_training_data(DataConfig(source=str(write_jsonl(tmp_path / "k.jsonl", rows))),
                              data_asked("kto"))
    assert (data.kind, data.format, [r["label"] for r in data.dataset]) == ("kto", "kto-tag-messages",
                                                                            [True, False])


def test_blank_documents_of_a_text_corpus_are_skipped_not_errors(tmp_path):
    # wikitext keeps blanks
    rows = [{"text": " = Pizza = \n"}, {"text": ""}, {"text": "Pineapple is a topping."}]
    norm = normalise(read_source(str(write_jsonl(tmp_path / "wiki.jsonl", rows))))
    assert (norm.kind, norm.errors, len(norm.examples), norm.valid_rows) == ("text", [], 2, 3)
    assert norm.remarks == [{"row": 1, "message": "skipped: a blank document", "skipped": True}]


def test_a_file_of_only_ties_gives_one_sentence(tmp_path):
    with pytest.raises(DataError, match=r"^No preference pair could be built .*row 0: gives no pair: the "
                                        r"judge"):
        load_training_data(DataConfig(source=str(write_jsonl(tmp_path / "t.jsonl", ARENA[1:] * 2))),
                           data_asked("dpo"))


def test_ranked_data_asked_of_sft_says_why_and_what_to_pick(tmp_path):
    with pytest.raises(DataError, match="SFT learns from demonstrations; choose DPO for it"):
        load_training_data(DataConfig(source=str(write_jsonl(tmp_path / "n.jsonl", NECTAR))),
                           data_asked("sft"))
