"""Every data file of other fine-tuning tools (../shared/peer-data) is read as its project declares it.

The files are read where they lie (none is copied into the project); EXPECTED.json gives each one's
kind and record count as declared by LLaMA-Factory, ms-swift, torchtune, axolotl, FastChat and unsloth.
"""

import json
from pathlib import Path

import pytest

from studio.data import DataError
from studio.data.layouts.normalise import normalise
from studio.data.read.source import read_source
from studio.methods import data_asked

PEERS = Path(__file__).resolve().parents[1].parent / "shared" / "peer-data"
EXPECTED = json.loads((PEERS / "EXPECTED.json").read_text(encoding="utf-8")) if PEERS.is_dir() else {}
# The studio's names for the kinds the projects declare: pre-training files are raw text.
OURS = {"pretrain": "text"}

pytestmark = pytest.mark.skipif(not EXPECTED, reason="../shared/peer-data is not beside this checkout")


def test_all_46_files_are_listed():
    assert len(EXPECTED) == 46


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_peer_file_is_read_as_declared(name):
    declared = EXPECTED[name]
    norm = normalise(read_source(str(PEERS / name)))
    assert norm.kind == OURS.get(declared["kind"], declared["kind"])
    assert (norm.rows, norm.valid_rows, norm.errors) == (declared["rows"], declared["rows"], [])
    if norm.kind == "multimodal":
        assert norm.media and "trains text-only models" in norm.notes[0]


def test_llamafactory_folder_offers_its_datasets_by_name():
    with pytest.raises(DataError, match=r"offers \d+ local datasets \(identity, "
                                        r"alpaca_en_demo.*subset") as err:
        read_source(str(PEERS / "llamafactory"))
    assert len(str(err.value).split("; ")) == 2  # one sentence: what is there, what to do
    with pytest.raises(DataError, match="has no dataset 'nope'"):
        read_source(str(PEERS / "llamafactory" / "dataset_info.json"), subset="nope")


@pytest.mark.parametrize("subset,kind,fmt", [
    ("glaive_toolcall_en_demo", "tool", "sharegpt-tools"),
    ("dpo_en_demo", "preference", "llamafactory-ranking"),
    ("kto_en_demo", "kto", "kto-sharegpt"),
    ("mllm_demo", "multimodal", "sharegpt"),
    ("c4_demo", "text", "text"),
    ("wiki_demo", "text", "text"),
    ("alpaca_en_demo", "sft", "alpaca"),
])
def test_llamafactory_dataset_read_through_its_declared_columns_and_tags(subset, kind, fmt):
    info = json.loads((PEERS / "llamafactory" / "dataset_info.json").read_text(encoding="utf-8"))
    norm = normalise(read_source(str(PEERS / "llamafactory"), subset=subset))
    rows = EXPECTED[f"llamafactory/{info[subset]['file_name']}"]["rows"]
    assert (norm.kind, norm.format.name, norm.valid_rows, norm.errors) == (kind, fmt, rows, [])


def test_v1_messages_keep_parts_weights_and_tool_calls():
    sft = normalise(read_source(str(PEERS / "llamafactory" / "v1_sft_demo.jsonl"), limit=1)).examples[0]
    # loss_weight 0 on a user turn changes nothing
    assert sft["messages"][0] == {"role": "user", "content": "hi"}
    assert sft["messages"][1]["content"].startswith("Hello! I am {{name}}")
    tools = normalise(read_source(str(PEERS / "llamafactory" / "reason_tool_use_demo_50.jsonl"))).examples
    calls = [m for ex in tools for m in ex["messages"] if m.get("tool_calls")]
    assert calls and all(c["tool_calls"][0]["function"]["name"] for c in calls)
    assert sum("tools" in ex for ex in tools) > 40 and all(json.loads(ex["tools"]) for ex in tools if "tools"
    in ex)
    assert any(m["content"].startswith("<think>\n") for m in tools[0]["messages"])


def test_glaive_function_calls_become_tool_calls_and_no_turn_is_dropped():
    raw = read_source(str(PEERS / "llamafactory" / "glaive_toolcall_en_demo.json"), limit=5)
    first_row = raw.rows[0][1]
    ex = normalise(raw).examples[0]
    assert len(ex["messages"]) == len(first_row["conversations"])
    roles = [m["role"] for m in ex["messages"]]
    assert "tool" in roles and any(m.get("tool_calls") for m in ex["messages"])


def test_axolotl_missing_turn_is_reported_per_row_and_not_trained():
    norm = normalise(read_source(str(PEERS / "axolotl" / "conversation.missingturns.json")))
    assert (norm.valid_rows, norm.errors) == (1, [])
    assert norm.remarks == [{"row": 0, "message": "message 2 of 'conversations' is an empty assistant turn; "
                                                  "it is kept but not trained on"}]
    assert norm.examples[0]["messages"][1] == {"role": "assistant", "content": "", "weight": 0.0}


def test_kto_rows_keep_their_label():
    ex = normalise(read_source(str(PEERS / "llamafactory" / "kto_en_demo.json"), limit=20)).examples
    assert {e["label"] for e in ex} == {True, False}
    assert all(e["completion"][0]["role"] == "assistant" and e["prompt"][-1]["role"] == "user" for e in ex)


@pytest.mark.parametrize("name,method,words", [
    ("llamafactory/kto_en_demo.json", "dpo",
     "This is KTO data.*DPO needs preference pairs.*choose KTO for it"),
    # a bare kind (no method named) gets the sentence without a method's title or a suggestion
    ("llamafactory/kto_en_demo.json", "preference",
     "This is KTO data.*the chosen method needs preference pairs"),
    ("llamafactory/c4_demo.jsonl", "dpo", "This is raw text.*choose SFT for it"),
    ("llamafactory/dpo_en_demo.json", "sft", "SFT learns from demonstrations; choose DPO"),
    ("llamafactory/mllm_demo.json", "sft", "holds images besides text.*trains text-only models"),
    ("ms-swift/multi_modal_2.jsonl", "sft", "holds images besides text"),
])
def test_a_method_refuses_data_it_cannot_train_on_in_one_sentence(name, method, words):
    from studio.config import DataConfig
    from studio.data import load_training_data

    with pytest.raises(DataError, match=words) as err:
        load_training_data(DataConfig(source=str(PEERS / name)),
                           data_asked(method) if method != "preference" else method)
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")


@pytest.mark.parametrize("name,asked,kind", [
    ("llamafactory/dpo_en_demo.json", "preference", "preference"),
    ("llamafactory/dpo_en_demo.json", "dpo", "preference"),
    ("llamafactory/dpo_en_demo.json", "kto", "preference"), ("llamafactory/kto_en_demo.json", "kto", "kto"),
    ("llamafactory/c4_demo.jsonl", "sft", "text"),
    ("llamafactory/glaive_toolcall_en_demo.json", "sft", "tool"),
])
def test_a_method_or_the_kind_it_declares_gets_the_data_it_can_train_on(name, asked, kind):
    from studio.config import DataConfig
    from studio.data import load_training_data
    from studio.methods import get_method

    # "dpo" is a method: what it asks of the data is the Asked it declares (the data layer knows no method).
    asked = data_asked(get_method(asked)) if asked == "dpo" else asked
    data = load_training_data(DataConfig(source=str(PEERS / name), max_rows=20), asked)
    assert (data.kind, data.errors) == (kind, [])
