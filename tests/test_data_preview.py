"""Chat templates, the trained-on marking (checked against what TRL's trainers really train on), token
length statistics and the `studio data inspect` report."""

import json
import shutil
import time

import pytest
from data_fixtures import layouts as L
from jsonl_files import write_jsonl

from studio.cli import main
from studio.config import RunConfig
from studio.data import DataError, load_training_data
from studio.data.inspect import inspect_source
from studio.data.prepare.lengths import length_stats
from studio.data.prepare.preview import preview, render, sft_plan
from studio.data.prepare.templates import CHATML, LLAMA2, ZEPHYR, apply_template
from studio.methods import data_asked

# SmolLM2-135M-Instruct's own template (the embedded model): no {% generation %} markers, and a
# default system prompt when the conversation has none.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
SYS_CHAT = [{"role": "system", "content": "Be brief."}, *CHAT]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def plain_template_model(tiny_model_dir, tmp_path_factory):
    """The tiny model with SmolLM2's own template (no generation markers) as its template."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("plain-template") / "model"
    shutil.copytree(tiny_model_dir, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = SMOLLM2_TEMPLATE
    tok.save_pretrained(folder)
    return folder




@pytest.mark.parametrize("name,messages,expected", [
    ("chatml", CHAT, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"),
    ("chatml", SYS_CHAT, ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                         "<|im_start|>assistant\nHello<|im_end|>\n")),
    ("llama2", CHAT, "<|endoftext|>[INST] <<SYS>>\n\n<</SYS>>\n\nHi [/INST] Hello <|im_end|>"),
    ("llama2", SYS_CHAT, "<|endoftext|>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello <|im_end|>"),
    ("zephyr", CHAT, "<|system|>\n<|im_end|>\n<|user|>\nHi<|im_end|>\n<|assistant|>\nHello<|im_end|>\n"),
    ("zephyr", SYS_CHAT,
     "<|system|>\nBe brief.<|im_end|>\n<|user|>\nHi<|im_end|>\n<|assistant|>\nHello<|im_end|>\n"),
])
def test_template_rendering(name, messages, expected, tokenizer):
    assert apply_template(tokenizer, name) == name
    assert render(tokenizer, {"messages": messages}, "sft")["text"] == expected


def test_template_choices(tokenizer, plain_template_model):
    from transformers import AutoTokenizer

    tokenizer.chat_template = CHATML
    assert apply_template(tokenizer, "auto") == "model"  # the model's own template wins
    own = AutoTokenizer.from_pretrained(plain_template_model)
    assert apply_template(own, "model") == "model" and own.chat_template == SMOLLM2_TEMPLATE
    own.chat_template = None
    assert apply_template(own, "auto") == "chatml" and own.chat_template == CHATML
    for jinja in (CHATML, LLAMA2, ZEPHYR):
        assert "{% generation %}" in jinja


def _trainer_dataset(model_dir, data_file, method, template, tmp_path):
    """What the studio's real trainer (TRL) prepares from this data: the ground truth to match."""
    from studio.models.loading import load_model, load_tokenizer, resolve_model
    from studio.training.trainer import build_trainer, plan_device

    cfg = RunConfig.from_dict({
        "method": method, "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": template},
        "lora": {"r": 2, "alpha": 4, "dropout": 0.0},
        "training": {"max_steps": 1, "batch_size": 2, "max_length": 512, "learning_rate": 1e-3},
        "output": {"dir": str(tmp_path / "run")},
    })
    resolved = resolve_model(str(model_dir))
    tok = load_tokenizer(resolved)
    apply_template(tok, template)
    data = load_training_data(cfg.data, data_asked(method))
    trainer = build_trainer(cfg, tmp_path / "run", load_model(resolved), tok, data.dataset, plan_device(cfg))
    return tok, data, trainer.train_dataset


@pytest.mark.parametrize("template", ["chatml", "llama2", "zephyr", "model", "plain-model"])
def test_sft_marking_matches_what_trl_trains_on(template, tiny_model_dir, plain_template_model, tmp_path):
    model_dir = plain_template_model if template == "plain-model" else tiny_model_dir
    rows = L.ULTRACHAT_200K + L.NO_ROBOTS
    tok, data, prepared = _trainer_dataset(model_dir, write_jsonl(tmp_path / "c.jsonl", rows), "sft",
                                           "model" if template == "plain-model" else template, tmp_path)
    plan = sft_plan(tok)
    assert plan.assistant_only == (template != "plain-model")
    for i in range(len(rows)):
        segments = preview(tok, data.dataset[i], "sft", plan)
        ids, labels = prepared[i]["input_ids"], prepared[i]["labels"]
        assert "".join(s["text"] for s in segments) == tok.decode(ids)
        trained = "".join(s["text"] for s in segments if s["trained"])
        assert trained == tok.decode([t for t in labels if t != -100])
    if template in ("chatml", "model"):  # two assistant turns, each with its end-of-turn token
        segments = preview(tok, data.dataset[0], "sft", plan)
        assert [s["text"] for s in segments if s["trained"]] == [
            "Plants turn light, water and carbon dioxide into sugar and oxygen.<|im_end|>",
            "In the chloroplasts of leaf cells.<|im_end|>"]
    if template == "plain-model":  # no markers: the whole conversation, default system prompt included
        assert segments[0]["trained"] and "named SmolLM" in segments[0]["text"]


@pytest.mark.parametrize("template", ["chatml", "llama2", "zephyr", "plain-model"])
def test_dpo_marking_matches_what_trl_trains_on(template, tiny_model_dir, plain_template_model, tmp_path):
    model_dir = plain_template_model if template == "plain-model" else tiny_model_dir
    rows = L.HH_RLHF + L.ORCA_DPO_PAIRS
    tok, data, prepared = _trainer_dataset(model_dir, write_jsonl(tmp_path / "p.jsonl", rows), "dpo",
                                           "model" if template == "plain-model" else template, tmp_path)
    for i in range(len(rows)):
        parts = {s["part"]: s for s in preview(tok, data.dataset[i], "preference", None)}
        assert not parts["prompt"]["trained"] and parts["chosen"]["trained"] and parts["rejected"]["trained"]
        assert parts["prompt"]["text"] == tok.decode(prepared[i]["prompt_ids"])
        assert parts["chosen"]["text"] == tok.decode(prepared[i]["chosen_ids"])
        assert parts["rejected"]["text"] == tok.decode(prepared[i]["rejected_ids"])
    first = {s["part"]: s["text"] for s in preview(tok, data.dataset[0], "preference", None)}
    assert first["chosen"].startswith(" It has potassium" if template == "llama2" else "It has potassium")


def test_length_statistics(tokenizer):
    apply_template(tokenizer, "chatml")
    examples = [{"messages": [{"role": "user", "content": "hello " * n},
                              {"role": "assistant", "content": "world " * (n % 7)}]} for n in range(1, 60)]
    lengths = sorted(len(tokenizer.apply_chat_template(ex["messages"])["input_ids"]) for ex in examples)
    limit = lengths[40]
    stats = length_stats(tokenizer, examples, "sft", sft_plan(tokenizer), limit)
    assert stats["min"] == lengths[0] and stats["max"] == lengths[-1]
    # nearest rank: ceil(0.95 * 59) = 57
    assert stats["median"] == lengths[29] and stats["p95"] == lengths[56]
    assert stats["truncated"] == sum(n > limit for n in lengths) > 0
    assert (stats["counted"], stats["total"], stats["sampled"]) == (59, 59, False)
    hist = stats["histogram"]
    assert sum(hist["counts"]) == 59 and len(hist["edges"]) == len(hist["counts"]) + 1
    assert hist["edges"][0] == lengths[0] and hist["edges"][-1] == lengths[-1] + 1
    for i, count in enumerate(hist["counts"]):
        assert count == sum(hist["edges"][i] <= n < hist["edges"][i + 1] for n in lengths)

    pairs = [{"prompt": [{"role": "user", "content": "hi " * n}],
              "chosen": [{"role": "assistant", "content": "a " * n}],
              "rejected": [{"role": "assistant", "content": "b " * (2 * n)}]} for n in range(1, 11)]
    longer = [len(tokenizer.apply_chat_template(p["prompt"] + p["rejected"])["input_ids"]) for p in pairs]
    stats = length_stats(tokenizer, pairs, "preference", None, 10_000)
    assert (stats["min"], stats["max"], stats["truncated"]) == (min(longer), max(longer), 0)


def test_sampled_statistics_say_so(tokenizer, tiny_model_dir, tmp_path):
    apply_template(tokenizer, "chatml")
    examples = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
                for i in range(2500)]
    stats = length_stats(tokenizer, examples, "sft", sft_plan(tokenizer), 8, time_budget=0.0)
    assert stats["sampled"] and stats["counted"] < stats["total"] == 2500
    assert stats["truncated"] == 2500  # every counted row is longer than 8 tokens: the estimate scales up
    path = write_jsonl(tmp_path / "many.jsonl", examples)
    report = inspect_source(str(path), model=str(tiny_model_dir), stats_time_budget=0.0)
    assert any("random sample" in note for note in report.notes)


def test_inspect_json_report_from_the_cli(tiny_model_dir, tmp_path, capsys):
    rows = L.OPENHERMES_2_5 * 3
    path = tmp_path / "hermes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n", encoding="utf-8")
    code = main(["data", "inspect", str(path), "--model", str(tiny_model_dir), "--template", "zephyr",
                 "--max-length", "40", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1
    report = json.loads(out)
    assert (report["kind"], report["format"], report["rows"], report["valid_rows"]) == ("sft", "sharegpt", 7,
                                                                                        6)
    assert report["errors"] == [{"row": 6, "message": "invalid JSON line (Expecting property name enclosed "
                                                      "in "
                                                      "double quotes at column 2, line 7)"}]
    assert report["sample"]["messages"][1] == {"role": "user", "content": "Is pineapple on pizza a crime?"}
    assert report["rendered"].startswith("<|system|>\nYou are an AI assistant")
    assert report["template"] == "zephyr"
    assert "".join(s["text"] for s in report["preview"][0]) == report["rendered"]
    assert set(report["length_stats"]) >= {"min", "median", "p95", "max", "truncated"}
    assert report["length_stats"]["max_length"] == 40 and report["length_stats"]["truncated"] > 0

    assert main(["data", "inspect", str(path), "--model", str(tiny_model_dir), "--rows", "2"]) == 0
    text = capsys.readouterr().out
    assert "Format:   sharegpt" in text and "2 read" in text and "[[No, it is a matter" in text


def test_inspect_preference_report(tiny_model_dir, tmp_path):
    path = write_jsonl(tmp_path / "uf.jsonl", L.ULTRAFEEDBACK_BINARIZED)
    report = inspect_source(str(path), model=str(tiny_model_dir), template="chatml", method=data_asked("dpo"))
    assert (report.kind, report.format, report.valid_rows) == ("preference", "ultrafeedback-binarized", 2)
    assert report.rendered.endswith("No, it is a matter of personal preference and taste.<|im_end|>\n")
    assert report.rendered_rejected.endswith("Yes, it violates the Geneva Convention.<|im_end|>\n")
    assert [s["part"] for s in report.preview[0]] == ["prompt", "chosen", "rejected"]
    assert json.loads(report.to_json())["sample"] == report.sample


def test_a_3mb_row_does_not_stall(tiny_model_dir, tmp_path):
    huge = ("pineapple pizza " * 200_000)[:3_000_000]
    rows = [{"prompt": "Tell me everything.", "completion": huge}, {"prompt": "Short?", "completion": "Yes."}]
    path = write_jsonl(tmp_path / "huge.jsonl", rows)
    started = time.time()
    report = inspect_source(str(path), model=str(tiny_model_dir), template="chatml", max_length=512)
    assert time.time() - started < 30
    assert report.valid_rows == 2 and report.length_stats["truncated"] == 1
    assert report.length_stats["max"] > 100_000
    shown = "".join(s["text"] for s in report.preview[0])
    assert len(shown) < 50_000 and "more characters not shown" in shown


@pytest.mark.slow
def test_inspect_defaults_to_the_embedded_model(tmp_path):
    """No --model: the embedded SmolLM2 tokenizer with its own template (a default system prompt)."""
    path = write_jsonl(tmp_path / "chat.jsonl", L.NO_ROBOTS)
    report = inspect_source(str(path))
    assert report.model == "HuggingFaceTB/SmolLM2-135M-Instruct" and report.template == "model"
    assert "named SmolLM" in report.preview[1][0]["text"] and all(s["trained"] for s in report.preview[1])
    assert any("cannot mark the assistant's turns" in n for n in report.notes)


def test_sft_plan_asks_trl_only_about_templates_it_ships(tokenizer):
    from pathlib import Path

    import trl
    from trl.chat_template_utils import get_training_chat_template

    shipped = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text(encoding="utf-8")
    tokenizer.chat_template = shipped  # one TRL can patch: it swaps in its training template
    plan = sft_plan(tokenizer)
    assert plan.assistant_only and plan.template == get_training_chat_template(tokenizer)
    tokenizer.chat_template = SMOLLM2_TEMPLATE  # one it cannot: whole conversations, said in a note
    plan = sft_plan(tokenizer)
    assert not plan.assistant_only and "cannot mark" in plan.note
    with pytest.raises(ValueError):
        get_training_chat_template(tokenizer)
    tokenizer.chat_template = CHATML


def test_uploaded_file_without_a_known_suffix_is_sniffed(tiny_model_dir, tmp_path):
    upload = write_jsonl(tmp_path / "upload_3f9a", L.HH_RLHF)
    report = inspect_source(str(upload), model=str(tiny_model_dir), template="chatml")
    assert (report.format, report.valid_rows) == ("hh-rlhf", 2)
    sheet = tmp_path / "sheet.txt"
    sheet.write_text("instruction,input,output\nSay hi,,Hi!\n", encoding="utf-8")
    assert inspect_source(str(sheet), model=str(tiny_model_dir)).format == "alpaca"


@pytest.mark.slow
def test_embedded_tokenizer_shortcut_equals_autotokenizer():
    from studio.data.inspect import _embedded_tokenizer
    from studio.models.loading import load_tokenizer, resolve_model

    resolved = resolve_model("embedded")
    slow, fast = load_tokenizer(resolved), _embedded_tokenizer(resolved.path)
    assert type(fast) is type(slow)
    assert fast.chat_template == slow.chat_template and fast.special_tokens_map == slow.special_tokens_map
    assert fast.pad_token == slow.pad_token and len(fast) == len(slow)
    text = render(slow, {"messages": L.NO_ROBOTS[0]["messages"]}, "sft")["text"] + " wörld 😀 \t 123"
    assert fast(text, add_special_tokens=False)["input_ids"] == slow(text,
    add_special_tokens=False)["input_ids"]


def test_examples_the_model_template_rejects_are_reported(tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    folder = tmp_path / "strict"
    shutil.copytree(tiny_model_dir, folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}"
                         "{{ raise_exception('System role not supported') }}{% endif %}"
                         "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor "
                         "%}")
    tok.save_pretrained(folder)
    path = write_jsonl(tmp_path / "nr.jsonl", L.NO_ROBOTS)
    report = inspect_source(str(path), model=str(folder))
    assert report.template == "model" and report.length_stats["rejected"] == 1
    assert report.preview[0] == [{"text": "(the model chat template rejects this example: System role not "
                                          "supported)", "trained": False}]
    assert report.preview[1][-1]["trained"] and report.length_stats["counted"] == 1
    assert any("rejects 1 example (first reason: System role" in n for n in report.notes)
    only_system = write_jsonl(tmp_path / "sys.jsonl", L.NO_ROBOTS[:1])
    with pytest.raises(DataError, match="rejects every example"):
        inspect_source(str(only_system), model=str(folder))
