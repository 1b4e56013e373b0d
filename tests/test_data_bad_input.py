"""Bad input: bad rows are reported with their number and reason; unusable sources get one sentence."""

import json

import pytest
from data_fixtures import layouts as L
from jsonl_files import write_jsonl

from studio.cli import main
from studio.config import DataConfig
from studio.data import DataError, load_training_data
from studio.methods import data_asked


def load(path, method="sft", **cfg):
    return load_training_data(DataConfig(source=str(path), **cfg), data_asked(method))


def line(obj) -> bytes:
    return (json.dumps(obj) + "\n").encode("utf-8")


def good(i):
    return {"messages": [{"role": "user", "content": f"Question {i}?"},
                         {"role": "assistant", "content": f"Answer {i}."}]}


def assert_one_sentence(message: str):
    assert "\n" not in message and message.endswith(".") and len(message) < 400, message
    assert "Traceback" not in message


def test_each_bad_row_is_reported_and_the_rest_stay_usable(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"".join([
        line(good(0)),
        line({"conversation": []}),                                            # 1 missing field
        line({"messages": "hello there"}),                                     # 2 wrong type
        # 3 empty
        line({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]}),
        line({"messages": [{"role": "robot", "content": "beep"}]}),            # 4 unknown role
        line({"messages": [{"role": "user", "content": "Anyone there?"}]}),    # 5 no assistant turn
        b'{"messages": [{"role": "user", "content": "cut off\n',               # 6 invalid JSON line
        b'{"messages": "caf\xe9 latin-1"}\n',                                  # 7 undecodable bytes
        b"\n",                                                                 # blank lines are not rows
        line(["a", "list"]),                                                   # 8 not an object
        # 9 type
        line({"messages": [{"role": "user", "content": 42}, {"role": "assistant", "content": "x"}]}),
        line(good(10)),
    ]))
    data = load(path, "sft")
    assert data.rows == 11 and len(data.dataset) == 2 and data.valid_rows == 2
    assert [ex["messages"][0]["content"] for ex in data.dataset] == ["Question 0?", "Question 10?"]
    errors = {e["row"]: e["message"] for e in data.errors}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert errors[1] == "missing field 'messages'"
    assert errors[2] == "field 'messages' has the wrong type: expected a list of messages, got text"
    assert errors[3] == "empty text in message 2 of 'messages' (assistant)"
    assert errors[4] == "unknown role 'robot' in message 1 of 'messages'"
    assert errors[5] == "no assistant turn in 'messages'"
    assert errors[6].startswith("invalid JSON line (") and "line 7" in errors[6]
    assert errors[7].startswith("undecodable bytes") and "line 8" in errors[7]
    assert errors[8] == "line 10 is a JSON list, not an object with fields"
    assert "wrong type of content" in errors[9]
    assert any("9 of 11 rows were left out" in n for n in data.notes)


def test_preference_row_problems(tmp_path):
    rows = [
        {"prompt": "Is it?", "chosen": "Yes.", "rejected": "No."},
        {"prompt": "Same?", "chosen": "Same.", "rejected": "Same."},
        {"prompt": "Missing?", "chosen": "Yes."},
        {"prompt": "", "chosen": "Yes.", "rejected": "No."},
        {"prompt": "Number?", "chosen": 3, "rejected": "No."},
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    data = load(path, "dpo")
    assert len(data.dataset) == 1
    assert data.errors == [
        {"row": 1, "message": "chosen is the same as rejected"},
        {"row": 2, "message": "missing field 'rejected'"},
        {"row": 3, "message": "empty text in 'prompt'"},
        {"row": 4, "message": "field 'chosen' has the wrong type: expected text or a list of messages, got a "
                              "number"},
    ]


def test_hh_rlhf_identical_and_empty_replies(tmp_path):
    same = L.HH_RLHF[1]["chosen"]
    rows = L.HH_RLHF + [{"chosen": same, "rejected": same},
                        {"chosen": "\n\nHuman: Hi?\n\nAssistant:",
                         "rejected": "\n\nHuman: Hi?\n\nAssistant: Hello."}]
    path = write_jsonl(tmp_path / "hh.jsonl", rows)
    data = load(path, "dpo")
    assert len(data.dataset) == 2
    assert data.errors == [{"row": 2, "message": "chosen is the same as rejected"},
                           {"row": 3, "message": "empty text in the 'chosen' reply"}]


def test_csv_row_problems(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"instruction,input,output\n"
                     b"Say hi,,Hi!\n"
                     b"Too,many,fields,here\n"
                     b"Caf\xe9,,latin-1\n"
                     b"Empty answer,,\n"
                     b"Say bye,,Bye!\n")
    data = load(path, "sft")
    assert len(data.dataset) == 2
    assert data.errors == [
        {"row": 1, "message": "has 4 fields but the header names 3"},
        {"row": 2, "message": "undecodable bytes (not UTF-8 text); save the file as UTF-8"},
        {"row": 3, "message": "empty text in 'output'"},
    ]


UNUSABLE = {
    "empty": (b"", "empty"),
    "blank": (b"\n\n  \n", "empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" * 20, "looks binary"),
    "no known columns": (line({"foo": 1, "bar": "x"}) * 3, "No known columns"),
    "all rows bad": (b"{not json\n[1]\n", "None of the 2 rows"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_sources_get_one_sentence(case, tmp_path):
    content, expected = UNUSABLE[case]
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        load(path)
    assert expected in str(err.value)
    assert_one_sentence(str(err.value))


@pytest.mark.parametrize("value,expected", [({"a": 1, "b": 2}, "JSON object, not rows"), (42, "JSON number"),
                                            ("text", "JSON string")])
def test_json_value_that_is_not_rows(value, expected, tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    with pytest.raises(DataError, match=expected) as err:
        load(path)
    assert_one_sentence(str(err.value))


def test_missing_file_folder_and_wrong_kind(tmp_path):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    for source, expected in [(tmp_path / "nope.jsonl", "does not exist"),
                             (empty, "Could not read the folder"),
                             ("./data/missing.csv", "does not exist")]:
        with pytest.raises(DataError, match=expected) as err:
            load(source)
        assert_one_sentence(str(err.value))
    sft = tmp_path / "sft.jsonl"
    sft.write_text("".join(json.dumps(good(i)) + "\n" for i in range(3)), encoding="utf-8")
    with pytest.raises(DataError, match="SFT data.*DPO needs preference pairs") as err:
        load(sft, "dpo")
    assert_one_sentence(str(err.value))
    pref = tmp_path / "pref.jsonl"
    pref.write_text(json.dumps(L.TRL_PREFERENCE_TEXT[0]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="preference data.*SFT learns from demonstrations") as err:
        load(pref, "sft")
    assert_one_sentence(str(err.value))


def test_cli_exits_non_zero_with_the_sentence_on_stderr(tmp_path, capsys, tiny_model_dir):
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    cases = [str(tmp_path / "empty.jsonl"), str(tmp_path / "missing.jsonl"), "nobody-xyz/no-such-dataset"]
    for source in cases:
        code = main(["data", "inspect", source, "--model", str(tiny_model_dir), "--json"])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err.startswith("error: ") and err.count("\n") == 1, err
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps(good(0)) + "\n", encoding="utf-8")
    assert main(["data", "inspect", str(sft), "--model", str(tiny_model_dir), "--method", "dpo"]) == 2
    assert "DPO needs preference pairs" in capsys.readouterr().err
