"""Every model family in the catalog, proven at a tiny size: a model folder as a user downloads it
(config + safetensors + tokenizer with the family's own chat template), built from the family's own
transformers config class. For each: the preview marks exactly the assistant's tokens as trained;
SFT and DPO train 2 LoRA steps; the base and the tuned model answer; the merge equals the adapter;
the GGUF export round-trips, or says in one sentence why it cannot be compared and keeps the file."""

from __future__ import annotations

import json

import pytest
import torch
from jsonl_files import write_jsonl
from tiny_families import FAMILIES, Family, build_family_model

from studio.config import RunConfig

SYSTEM, QUESTION, ANSWER = "Answer briefly.", "What is the capital of France?", ("The capital of France is "
                                                                                 "Paris.")
# transformers' GGUF reader rebuilds a Qwen3 with head size 128 (the tiny one has 8) and knows no SmolLM3:
# for these the export must keep the file and say why its answer was not compared.
UNREADABLE_GGUF = {"qwen3", "smollm3"}


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    return {name: build_family_model(family, root / name) for name, family in FAMILIES.items()}


@pytest.fixture(scope="session")
def family_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("family-data")
    chats = [{"messages": [{"role": "system", "content": SYSTEM},
                           {"role": "user", "content": f"{QUESTION} ({i})"},
                           {"role": "assistant", "content": ANSWER}]} for i in range(4)]
    pairs = [{"prompt": f"Is pineapple on pizza a crime? ({i})",
              "chosen": "No, it is a matter of personal preference and taste.",
              "rejected": "Yes, it is a criminal act under the Geneva Convention."} for i in range(4)]
    return {"sft": write_jsonl(root / "chat.jsonl", chats), "dpo": write_jsonl(root / "pairs.jsonl", pairs)}


def family_config(model_dir, data_file, method, run_dir) -> RunConfig:
    return RunConfig.from_dict({
        "method": method, "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "auto"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 5e-2, "max_steps": 2, "batch_size": 2, "max_length": 128,
                     "save_steps": 100},
        "output": {"dir": str(run_dir)},
    })


def test_every_catalog_family_has_a_tiny_model():
    from studio.models.catalog import catalog_models

    # SmolLM2 is tests/tiny_model.py's Llama + ChatML
    built = [f.name for f in FAMILIES.values()] + ["SmolLM2"]
    missing = {m["family"] for m in catalog_models() if not any(m["family"].startswith(b) for b in built)}
    assert not missing, f"catalog families without a tiny model in tests/tiny_families.py: {missing}"


@pytest.mark.parametrize("name", list(FAMILIES))
def test_preview_marks_exactly_the_assistant_tokens(name, family_dirs, family_data):
    from studio.data.inspect import inspect_source

    report = inspect_source(str(family_data["sft"]), model=str(family_dirs[name]), method="sft")
    segments = report.preview[0]
    trained = "".join(s["text"] for s in segments if s["trained"])
    untrained = "".join(s["text"] for s in segments if not s["trained"])
    assert report.template == "model" and not report.notes, report.notes
    assert ANSWER in trained and QUESTION not in trained and SYSTEM not in trained
    # Nothing but the answer, the family's end-of-turn marker and (Qwen3, SmolLM3) the empty think block.
    rest = trained.replace(ANSWER, "").replace(FAMILIES[name].eos,
                                               "").replace("<think>", "").replace("</think>", "")
    assert not rest.strip(), repr(trained)
    if FAMILIES[name].thinking:
        assert trained.startswith("<think>")
    if FAMILIES[name].system_role:
        assert untrained.index(SYSTEM) < untrained.index(QUESTION)
    else:  # Gemma has no system role: its template folds the system prompt into the first user turn
        assert f"user\n{SYSTEM}\n\n{QUESTION}" in untrained


def test_llama_3_2s_own_template_is_trained_whole_and_the_preview_says_so(family_dirs, family_data, tmp_path):
    """TRL 1.16 patches Llama 3's template for assistant-only loss but not 3.1's or 3.2's: SFT then trains on
    whole conversations, and the preview must say so rather than mark the answer alone."""
    from transformers import AutoTokenizer

    from studio.data.inspect import inspect_source

    tokenizer = AutoTokenizer.from_pretrained(family_dirs["llama3"])
    tokenizer.chat_template = Family("Llama 3.2", "", "", "llama3_2.jinja", [], "", "").chat_template()
    report = inspect_source(str(family_data["sft"]), tokenizer=tokenizer, method="sft")
    assert all(s["trained"] for s in report.preview[0])
    assert any("cannot mark the assistant's turns" in n for n in report.notes)


_RUNS: dict[str, object] = {}  # family -> its DPO run, trained once per session and reused by the GGUF test
# GGUF round trips are the slow part (the converter, two greedy answers, a merge): a subset covers the three
# paths: Llama 3 and Phi (llama.cpp's GPT-2 BPE vocabulary, read back and compared) and Qwen3 (written, kept,
# not readable by transformers). Gemma 3, Mistral and SmolLM3 convert too (checked by hand, 2026-12-02).
GGUF_SUBSET = ["llama3", "phi3", "qwen3"]


def _train(name, method, family_dirs, family_data, root):
    from studio.training.train import train

    run_dir = root / f"{name}-{method}"
    summary = train(family_config(family_dirs[name], family_data[method], method, run_dir), run_dir)
    assert summary["global_step"] == 2
    losses = [json.loads(line).get("loss") for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [x for x in losses if x is not None], "no loss logged"
    return run_dir


def dpo_run(name, family_dirs, family_data, tmp_path_factory):
    if name not in _RUNS:
        _RUNS[name] = _train(name, "dpo", family_dirs, family_data, tmp_path_factory.mktemp(f"{name}-runs"))
    return _RUNS[name]


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_trains_sft_and_dpo_chats_and_merges(name, family_dirs, family_data, tmp_path,
                                                    tmp_path_factory):
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling

    _train(name, "sft", family_dirs, family_data, tmp_path)
    run = dpo_run(name, family_dirs, family_data, tmp_path_factory)

    pair = BeforeAfter(run)
    ids = pair.tokenizer.apply_chat_template([{"role": "user", "content": "Is pineapple on pizza a crime?"}],
                                             add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
    answers = pair.compare("Is pineapple on pizza a crime?", Sampling(max_new_tokens=16))
    assert answers["before"] != answers["after"], answers  # two steps at a high rate moved the answer

    # Merging folds the adapter into the base: the same logits as base + adapter.
    with torch.no_grad():
        tuned = pair.model(**ids).logits
        merged = pair.model.merge_and_unload()(**ids).logits
    assert torch.allclose(tuned, merged, atol=1e-4)


@pytest.mark.parametrize("name", GGUF_SUBSET)
def test_family_gguf_round_trips_or_keeps_the_file_and_says_why(name, family_dirs, family_data, tmp_path,
                                                               tmp_path_factory):
    from studio.publish.gguf import describe_check, export_gguf

    run = dpo_run(name, family_dirs, family_data, tmp_path_factory)
    result = export_gguf(run, tmp_path / "gguf", "f32")
    check, sentence = result["check"], describe_check(result["check"])
    assert (tmp_path / "gguf" / "Modelfile").is_file()
    with open(result["gguf"], "rb") as fh:
        assert fh.read(4) == b"GGUF"
    if name in UNREADABLE_GGUF:
        assert check["unreadable"] and sentence.startswith("The GGUF is written and kept"), sentence
        assert "RuntimeError" in sentence and "ignore_mismatched_sizes" not in sentence
    else:
        assert check["same"] and check["gguf"], sentence
