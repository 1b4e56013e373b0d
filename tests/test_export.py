"""Export: the adapter folder's exact files, a merged model whose logits match the unmerged one, and
refusals (NaN weights, a folder that is not an earlier export) that leave nothing behind."""

import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from test_eval import tiny_dpo_run

from studio.errors import StudioError


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


def test_export_writes_adapter_tokenizer_card_and_curve(run_dir, tmp_path, tiny_model_dir):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.publish.hub import export_adapter

    target = export_adapter(run_dir, tmp_path / "out")
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([".studio-owner.json", "adapter_model.safetensors", "adapter_config.json",
                            "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "README.md",
                            "loss_curve.png"])
    assert (target / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (target / "README.md").read_text()
    assert "library_name: peft" in card and "training.learning_rate" in card and "![Training loss]" in card
    # Same weights as the run; the exported folder loads on its own, chat template included.
    src = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    out = load_file(target / "adapter_model.safetensors")
    assert src.keys() == out.keys() and all(torch.equal(src[k], out[k]) for k in src)
    assert AutoTokenizer.from_pretrained(target).chat_template
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(target))
    # Exporting again to the same folder replaces the earlier export.
    assert export_adapter(run_dir, target) == target


def test_merged_model_matches_unmerged_logits(run_dir, tmp_path, tiny_model_dir, capsys):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from studio.publish.hub import cli_export

    assert cli_export(SimpleNamespace(run_dir=str(run_dir), to=str(tmp_path / "out"), merge=True)) == 0
    assert "merged model in" in capsys.readouterr().out
    merged_dir = tmp_path / "out" / "merged"
    assert (merged_dir / "config.json").is_file() and (merged_dir / "tokenizer.json").is_file()
    assert not list(merged_dir.glob("adapter_*"))

    inputs = torch.randint(0, 200, (2, 12), generator=torch.Generator().manual_seed(0))
    unmerged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                         str(run_dir / "adapter")).eval()
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    with torch.no_grad():
        want = unmerged(inputs).logits
        got = merged(inputs).logits
        plain = base(inputs).logits
    assert (want - plain).abs().max() > 1e-3  # the adapter matters, so the comparison means something
    assert torch.allclose(got, want, atol=1e-4), (got - want).abs().max()


def test_nan_adapter_is_refused_and_leaves_nothing(run_dir, tmp_path):
    from safetensors.torch import load_file, save_file

    from studio.publish.hub import export_adapter

    weights = run_dir / "adapter" / "adapter_model.safetensors"
    tensors = load_file(weights)
    first = min(tensors)
    tensors[first][0] = float("nan")
    save_file(tensors, weights)
    with pytest.raises(StudioError, match="NaN or infinite weights") as info:
        export_adapter(run_dir, tmp_path / "out")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_export_refuses_an_unrelated_folder(run_dir, tmp_path):
    from studio.publish.hub import export_adapter

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(StudioError, match="not an earlier adapter export"):
        export_adapter(run_dir, busy)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_export_of_bare_adapter_folder_has_no_card(run_dir, tmp_path):
    from studio.publish.hub import export_adapter

    lone = shutil.copytree(run_dir / "adapter", tmp_path / "lone")
    target = export_adapter(lone, tmp_path / "bare")
    assert (target / "adapter_model.safetensors").is_file() and not (target / "README.md").exists()
    config = json.loads((target / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
