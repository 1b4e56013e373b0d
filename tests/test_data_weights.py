"""Per-message weights, raw text and tool calls: what the preview marks is what TRL's SFTTrainer trains on."""

import pytest
from jsonl_files import write_jsonl

from studio.config import RunConfig
from studio.data import load_training_data
from studio.data.inspect import inspect_source

FIRST, SECOND = "Paris is in France.", "Berlin is in Germany."
OPENAI_WEIGHTED = [{"messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where is Paris?"},
    {"role": "assistant", "content": FIRST, "weight": 0},
    {"role": "user", "content": "And Berlin?"},
    {"role": "assistant", "content": SECOND, "weight": 1}]}] * 4
SHAREGPT_WEIGHTED = [{"conversations": [
    {"from": "human", "value": "Where is Paris?"},
    {"from": "gpt", "value": FIRST, "weight": 0.0},
    {"from": "human", "value": "And Berlin?"},
    {"from": "gpt", "value": SECOND, "weight": 1.0}]}] * 4
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}]
TOOL_ROWS = [{"messages": [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"type": "function",
                                          "function": {"name": "get_weather",
                                                       "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "content": '{"sky": "sunny"}'},
    {"role": "assistant", "content": "It is sunny in Paris."}], "tools": TOOLS}] * 4


@pytest.mark.parametrize("rows", [OPENAI_WEIGHTED, SHAREGPT_WEIGHTED], ids=["openai", "sharegpt"])
def test_preview_marks_weight_zero_turns_untrained(rows, tiny_model_dir, tmp_path):
    report = inspect_source(str(write_jsonl(tmp_path / "w.jsonl", rows)), model=str(tiny_model_dir),
                            template="chatml")
    segments = report.preview[0]
    zero = [s for s in segments if s.get("part") == "weight 0"]
    trained = "".join(s["text"] for s in segments if s["trained"])
    assert zero and FIRST in zero[0]["text"] and not zero[0]["trained"]
    assert SECOND in trained and FIRST not in trained
    assert any("weight 0" in n for n in report.notes)


def _trainer(tiny_model_dir, data_file, tmp_path, max_length=64):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.data.prepare.templates import apply_template
    from studio.training.trainer import build_trainer, plan_device

    cfg = RunConfig.from_dict({
        "method": "sft", "model": {"name": str(tiny_model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"max_steps": 1, "batch_size": 2, "max_length": max_length, "save_steps": 100},
        "output": {"dir": str(tmp_path / "run")},
    })
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    apply_template(tokenizer, "chatml")
    data = load_training_data(cfg.data, "sft")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    return build_trainer(cfg, tmp_path / "run", model, tokenizer, data.dataset, plan_device(cfg)), tokenizer


def test_trl_trains_on_the_weighted_turns_only(tiny_model_dir, tmp_path):
    trainer, tokenizer = _trainer(tiny_model_dir, write_jsonl(tmp_path / "w.jsonl", OPENAI_WEIGHTED),
                                  tmp_path,
                                  max_length=256)
    row = trainer.train_dataset[0]
    learned = tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != -100])
    whole = tokenizer.decode(row["input_ids"])
    assert FIRST in whole and SECOND in whole
    assert SECOND in learned and FIRST not in learned and "Where is Paris" not in learned


def test_raw_text_is_packed_into_max_length_blocks_all_trained(tiny_model_dir, tmp_path):
    docs = [{"text": f"Document {i}: the quick brown fox jumps over the lazy dog."} for i in range(20)]
    trainer, tokenizer = _trainer(tiny_model_dir, write_jsonl(tmp_path / "t.jsonl", docs), tmp_path,
                                  max_length=32)
    lengths = [len(r["input_ids"]) for r in trainer.train_dataset]
    assert len(lengths) > 1 and all(n == 32 for n in lengths[:-1]) and lengths[-1] <= 32
    assert all(r["labels"] == r["input_ids"] for r in trainer.train_dataset)
    stream = [t for r in trainer.train_dataset for t in r["input_ids"]]
    assert stream.count(tokenizer.eos_token_id) == len(docs)  # each document ends with end-of-text


def test_tool_calls_and_tools_reach_the_trainer(tiny_model_dir, tmp_path):
    path = write_jsonl(tmp_path / "tools.jsonl", TOOL_ROWS)
    report = inspect_source(str(path), model=str(tiny_model_dir), template="chatml")
    assert report.kind == "tool" and "get_weather" in report.rendered and "<tool_call>" in report.rendered
    trainer, tokenizer = _trainer(tiny_model_dir, path, tmp_path, max_length=4096)
    whole = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    assert "<tools>" in whole and '"city": "Paris"' in whole and "<tool_response>" in whole


def test_a_template_that_drops_tools_is_named_in_one_sentence(tiny_model_dir, tmp_path):
    report = inspect_source(str(write_jsonl(tmp_path / "tools.jsonl", TOOL_ROWS)), model=str(tiny_model_dir),
                            template="zephyr")
    note = next(n for n in report.notes if "tool" in n)
    assert note.startswith("The zephyr chat template leaves out the tool definitions and the assistant's "
                           "tool calls")
    assert "choose the chatml template" in note


def test_tool_calls_of_different_shapes_survive_arrow_and_reach_the_trainer(tiny_model_dir, tmp_path):
    """Each glaive call has its own arguments; Arrow must not merge them into one struct of nulls."""
    from pathlib import Path

    peers = Path(__file__).resolve().parents[1].parent / "shared" / "peer-data"
    glaive = peers / "llamafactory" / "glaive_toolcall_en_demo.json"
    if not glaive.is_file():
        pytest.skip("../shared/peer-data is not beside this checkout")
    rows = [r for r in __import__("json").loads(glaive.read_text(encoding="utf-8"))[:12]]
    path = write_jsonl(tmp_path / "glaive.jsonl", rows)
    trainer, tokenizer = _trainer(tiny_model_dir, path, tmp_path, max_length=100_000)
    texts = [tokenizer.decode(r["input_ids"]) for r in trainer.train_dataset]
    calls = [t for t in texts if "<tool_call>" in t]
    assert len(calls) >= 3 and not any(": null" in t for t in calls)
    assert '"arguments": {"ingredients": ["chicken", "bell peppers", "rice"]}' in texts[0]


@pytest.mark.parametrize("rows,max_length", [
    (OPENAI_WEIGHTED, 256), ([{"text": f"Document {i}: pineapple on pizza."} for i in range(12)], 48),
    (TOOL_ROWS, 1024)], ids=["weighted", "text", "tools"])
def test_a_real_run_trains_on_data_the_data_layer_tokenized(rows, max_length, tiny_model_dir, tmp_path):
    from studio.training.train import train

    cfg = RunConfig.from_dict({
        "method": "sft", "model": {"name": str(tiny_model_dir)},
        "data": {"source": str(write_jsonl(tmp_path / "d.jsonl", rows)), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"max_steps": 2, "batch_size": 2, "max_length": max_length, "save_steps": 100},
        "output": {"dir": str(tmp_path / "run")},
    })
    summary = train(cfg, tmp_path / "run")
    assert summary["global_step"] == 2 and summary["train_loss"] > 0


def test_examples_cut_before_anything_trained_say_so_in_one_sentence(tiny_model_dir, tmp_path):
    from studio.data import DataError

    with pytest.raises(DataError, match=r"^Every example's first trained token comes after max_length \(16 "
                                        r"tokens\)"):
        _trainer(tiny_model_dir, write_jsonl(tmp_path / "w.jsonl", OPENAI_WEIGHTED), tmp_path, max_length=16)
