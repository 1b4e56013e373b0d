"""Every schema the studio recognises, from files in each dataset's real published layout."""

import csv
import json
import time

import pytest
from data_fixtures import layouts as L
from jsonl_files import write_jsonl

from studio.config import DataConfig
from studio.data import DataError, load_training_data


def load(path, method="sft", **cfg):
    """The data as training asks for it: the method's Asked (its kind and title), as studio.training does."""
    from studio.methods import data_asked, get_method

    return load_training_data(DataConfig(source=str(path), **cfg), data_asked(get_method(method)))


def user(text):
    return {"role": "user", "content": text}


def bot(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


SFT_CASES = [
    ("ultrachat_200k", L.ULTRACHAT_200K, "messages", L.ULTRACHAT_200K[0]["messages"]),
    ("no_robots", L.NO_ROBOTS, "messages", L.NO_ROBOTS[0]["messages"]),
    ("openhermes", L.OPENHERMES_2_5, "sharegpt",
     [system("You are an AI assistant that helps people find information."),
      user("Is pineapple on pizza a crime?"), bot("No, it is a matter of personal preference and taste.")]),
    ("alpaca", L.ALPACA, "alpaca",
     [user("Give three tips for staying healthy."), bot(L.ALPACA[0]["output"])]),
    ("dolphin", L.DOLPHIN, "alpaca",
     [system(L.DOLPHIN[0]["instruction"]), user(L.DOLPHIN[0]["input"]),
      bot("Paris is the capital of France.")]),
    ("openorca", L.OPENORCA, "openorca", [user(L.OPENORCA[0]["question"]), bot("7")]),
    ("prompt-completion text", L.PROMPT_COMPLETION_TEXT, "prompt-completion",
     [user("The sky is"), bot(" blue.")]),
    ("prompt-completion messages", L.PROMPT_COMPLETION_CONVERSATIONAL, "prompt-completion",
     [user("What color is the sky?"), bot("It is blue.")]),
    ("dolly", L.DOLLY_15K, "dolly",
     [user("When did Virgin Australia start operating?\n\nVirgin Australia commenced services on 31 August "
           "2000 "
           "as Virgin Blue."), bot("Virgin Australia commenced services on 31 August 2000.")]),
    ("prompt-response", L.PROMPT_RESPONSE, "prompt-response", [user("Name a planet."), bot("Mars.")]),
    ("question-answer", L.QUESTION_ANSWER, "question-answer", [user("What is 2 + 2?"), bot("4")]),
]


def test_plain_text_is_its_own_kind_without_turns(tmp_path):
    data = load(write_jsonl(tmp_path / "d.jsonl", L.PLAIN_TEXT), "sft")
    assert (data.kind, data.format, data.rows, data.errors) == ("text", "text", len(L.PLAIN_TEXT), [])
    assert data.dataset.column_names == ["text"]
    assert data.dataset[0]["text"] == "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize("name,rows,fmt,first", SFT_CASES, ids=[c[0] for c in SFT_CASES])
def test_sft_schemas(name, rows, fmt, first, tmp_path):
    data = load(write_jsonl(tmp_path / "d.jsonl", rows), "sft")
    assert (data.kind, data.format, data.rows, data.errors) == ("sft", fmt, len(rows), [])
    assert data.dataset.column_names == ["messages"]
    assert data.dataset[0]["messages"] == first
    assert len(data.dataset) == len(rows)


def test_alpaca_input_joins_the_instruction(tmp_path):
    data = load(write_jsonl(tmp_path / "a.jsonl", L.ALPACA))
    assert data.dataset[1]["messages"] == [user("Translate the sentence into French.\n\nThe cat sleeps."),
                                           bot("Le chat dort.")]


def test_openorca_keeps_a_non_empty_system_prompt(tmp_path):
    data = load(write_jsonl(tmp_path / "o.jsonl", L.OPENORCA))
    assert data.dataset[1]["messages"][0] == system("You are an AI assistant that helps people find "
                                                    "information.")


PREF_CASES = [
    ("ultrafeedback_binarized", L.ULTRAFEEDBACK_BINARIZED, "ultrafeedback-binarized",
     ([user("Is pineapple on pizza a crime?")], "No, it is a matter of personal preference and taste.",
      "Yes, it violates the Geneva Convention.")),
    ("orca_dpo_pairs", L.ORCA_DPO_PAIRS, "orca-dpo-pairs",
     ([user(L.ORCA_DPO_PAIRS[0]["question"])], "3 + 4 = 7.", "3 + 4 = 8.")),
    ("hh-rlhf", L.HH_RLHF, "hh-rlhf",
     ([user("What is a good fruit for breakfast?"), bot("A banana is easy to eat."), user("Why is it good?")],
      "It has potassium and fibre.", "It is yellow.")),
    ("trl text", L.TRL_PREFERENCE_TEXT, "trl-preference", ([user("The sky is")], " blue.", " green.")),
    ("trl conversational", L.TRL_PREFERENCE_CONVERSATIONAL, "trl-preference-conversational",
     ([user("What color is the sky?")], "It is blue.", "It is green.")),
]


@pytest.mark.parametrize("name,rows,fmt,first", PREF_CASES, ids=[c[0] for c in PREF_CASES])
def test_preference_schemas(name, rows, fmt, first, tmp_path):
    data = load(write_jsonl(tmp_path / "p.jsonl", rows), "dpo")
    assert (data.kind, data.format, data.rows, data.errors) == ("preference", fmt, len(rows), [])
    assert data.dataset.column_names == ["prompt", "chosen", "rejected"]
    prompt, chosen, rejected = first
    assert data.dataset[0] == {"prompt": prompt, "chosen": [bot(chosen)], "rejected": [bot(rejected)]}


def test_orca_dpo_pairs_system_turn(tmp_path):
    data = load(write_jsonl(tmp_path / "p.jsonl", L.ORCA_DPO_PAIRS), "dpo")
    assert data.dataset[1]["prompt"] == [system("You are a helpful assistant, who always provide "
                                                "explanation."),
                                         user("Is the sky blue?")]


def test_ultrafeedback_as_sft_uses_its_messages(tmp_path):
    data = load(write_jsonl(tmp_path / "u.jsonl", L.ULTRAFEEDBACK_BINARIZED), "sft")
    assert data.format == "messages"
    assert data.dataset[0]["messages"] == L.ULTRAFEEDBACK_BINARIZED[0]["messages"]


def test_helpsteer_sft_takes_the_best_response(tmp_path):
    data = load(write_jsonl(tmp_path / "h.jsonl", L.HELPSTEER), "sft")
    assert (data.format, data.kind, data.rows, len(data.dataset)) == ("helpsteer", "sft", 4, 2)
    assert data.dataset[0]["messages"] == [user("Write a slogan for a pizza shop."),
                                           bot("Slices of joy, baked fresh daily!")]
    assert any("2 valid responses are not used" in n for n in data.notes)


def test_helpsteer_preference_pairs_best_against_worst(tmp_path):
    rows = L.HELPSTEER + [{"prompt": "Alone.", "response": "Only answer.", "helpfulness": 2, "correctness": 2,
                           "coherence": 2, "complexity": 1, "verbosity": 1}]
    data = load(write_jsonl(tmp_path / "h.jsonl", rows), "dpo")
    assert (data.kind, len(data.dataset)) == ("preference", 2)
    assert data.dataset[1] == {"prompt": [user("Explain gravity in one line.")],
                               "chosen": [bot("Masses attract each other.")],
                               "rejected": [bot("Things fall up.")]}
    assert data.errors == []  # a lone response is not a broken row: it gives no pair, and says so
    assert data.remarks == [{"row": 4, "message": "gives no pair: only one response to this prompt",
                             "skipped": True}]
    assert data.notes[0].startswith("2 pairs made by the rule: HelpSteer scores")


def test_oasst_sft_follows_the_top_ranked_path(tmp_path):
    data = load(write_jsonl(tmp_path / "o.jsonl", L.OASST2), "sft")
    assert (data.format, data.kind, data.rows, data.errors) == ("oasst", "sft", 8, [])
    assert [ex["messages"] for ex in data.dataset] == [
        [user("Is pineapple on pizza a crime?"), bot("No, it is a matter of taste."),
         user("Why do people dislike it then?"), bot("Some find sweet fruit odd with cheese.")],
        [user("Say hello."), bot("Hello!")],
    ]


def test_oasst_preference_from_ranked_siblings(tmp_path):
    data = load(write_jsonl(tmp_path / "o.jsonl", L.OASST2), "dpo")
    assert len(data.dataset) == 1 and data.notes[0].startswith("1 pair made by the rule: oasst ranks")
    assert data.dataset[0] == {"prompt": [user("Is pineapple on pizza a crime?")],
                               "chosen": [bot("No, it is a matter of taste.")],
                               "rejected": [bot("Yes, a serious one.")]}


def test_oasst_deleted_and_orphaned_messages_are_reported(tmp_path):
    rows = [dict(r) for r in L.OASST2]
    rows[4]["deleted"] = True  # p2: its reply a4 loses its parent
    data = load(write_jsonl(tmp_path / "o.jsonl", rows), "sft")
    assert data.errors == [{"row": 4, "message": "message is marked deleted"},
                           {"row": 5, "message": "its parent message 'p2' is missing or was left out"}]
    assert data.dataset[0]["messages"][-1] == bot("No, it is a matter of taste.")


def test_column_map_overrides_detection(tmp_path):
    rows = [{"q": "Is the sky blue?", "good": "Yes.", "bad": "No."}]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    with pytest.raises(DataError, match="preference data.*DPO"):
        load(path, "sft", column_map={"prompt": "q", "chosen": "good", "rejected": "bad"})
    data = load(path, "dpo", column_map={"prompt": "q", "chosen": "good", "rejected": "bad"})
    assert data.format == "trl-preference"
    assert data.dataset[0] == {"prompt": [user("Is the sky blue?")], "chosen": [bot("Yes.")],
                               "rejected": [bot("No.")]}
    # A null mapping hides a column, so detection can be steered away from a wrong guess.
    hidden = load(write_jsonl(tmp_path / "a.jsonl", L.ALPACA), "sft", column_map={"instruction": None,
                                                                                  "output": None})
    assert hidden.format == "text"
    with pytest.raises(DataError, match="'nope', which is not in the data"):
        load(path, "dpo", column_map={"prompt": "nope"})


def test_csv_tsv_json_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = L.OPENORCA
    with (tmp_path / "d.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with (tmp_path / "d.tsv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(rows)
    (tmp_path / "d.json").write_text(json.dumps(rows), encoding="utf-8")
    (tmp_path / "cols.json").write_text(json.dumps({k: [r[k] for r in rows] for k in rows[0]}),
                                        encoding="utf-8")
    pq.write_table(pa.Table.from_pylist(L.NO_ROBOTS), tmp_path / "m.parquet")
    for name in ("d.csv", "d.tsv", "d.json", "cols.json"):
        data = load(tmp_path / name)
        assert (data.format, len(data.dataset), data.errors) == ("openorca", 2, []), name
        assert data.dataset[1]["messages"][-1] == bot("Yes, because of Rayleigh scattering."), name
    data = load(tmp_path / "m.parquet")
    assert data.format == "messages" and data.dataset[0]["messages"] == L.NO_ROBOTS[0]["messages"]


def test_dataset_folders(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(L.NO_ROBOTS),
                          "test": datasets.Dataset.from_list(L.ULTRACHAT_200K[:1])}).save_to_disk(str(saved))
    data = load(saved)
    assert (data.format, len(data.dataset)) == ("messages", 2)
    assert data.dataset[0]["messages"] == L.NO_ROBOTS[0]["messages"]
    assert load(saved, split="test").dataset[0]["messages"] == L.ULTRACHAT_200K[0]["messages"]
    assert load(saved, split="train[1:]").dataset[0]["messages"] == L.NO_ROBOTS[1]["messages"]
    with pytest.raises(DataError, match="no split 'validation'"):
        load(saved, split="validation")
    repo = tmp_path / "repo"  # a downloaded Hub dataset repository
    (repo / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(L.ORCA_DPO_PAIRS), repo / "data" / "train-00000-of-00001.parquet")
    data = load(repo, "dpo")
    assert (data.format, len(data.dataset)) == ("orca-dpo-pairs", 2)


def test_messages_stored_as_json_text_in_csv(tmp_path):
    with (tmp_path / "m.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["messages"])
        for r in L.ULTRACHAT_200K:
            w.writerow([json.dumps(r["messages"])])
    data = load(tmp_path / "m.csv")
    assert data.format == "messages" and data.dataset[1]["messages"] == L.ULTRACHAT_200K[1]["messages"]


def test_row_limit_split_slice_and_seeded_sampling(tmp_path):
    rows = [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(50)]
    path = write_jsonl(tmp_path / "many.jsonl", rows)
    assert [ex["messages"][0]["content"] for ex in load(path, max_rows=3).dataset] == ["p0", "p1", "p2"]
    assert load(path, split="train[10:15]").dataset[0]["messages"][0]["content"] == "p10"
    assert load(path, split="train[:10%]").rows == 5
    a = [ex["messages"][0]["content"] for ex in load(path, max_rows=5, shuffle_seed=1).dataset]
    b = [ex["messages"][0]["content"] for ex in load(path, max_rows=5, shuffle_seed=1).dataset]
    c = [ex["messages"][0]["content"] for ex in load(path, max_rows=5, shuffle_seed=2).dataset]
    assert a == b and a != c and len(set(a)) == 5 and a != ["p0", "p1", "p2", "p3", "p4"]
    with pytest.raises(DataError, match="single split called 'train'"):
        load(path, split="test")


def test_hub_id_fails_fast_with_one_sentence_when_offline(monkeypatch):
    import datasets

    started = time.time()
    with pytest.raises(DataError) as err:  # HF_HUB_OFFLINE=1 (set by conftest)
        load("HuggingFaceH4/ultrafeedback_binarized", "dpo", split="train_prefs")
    assert "Hugging Face Hub cannot be reached" in str(err.value) and "local" in str(err.value)
    # Without offline mode the studio probes the Hub itself instead of letting datasets retry for minutes.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    with pytest.raises(DataError, match="Hugging Face Hub cannot be reached"):
        load("nobody-xyz/does-not-exist", "sft")
    assert time.time() - started < 15
