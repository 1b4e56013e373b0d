"""QLoRA and bitsandbytes' optimizers wherever bitsandbytes has a backend: a real 4-bit NF4 base trains
LoRA on the CPU; where there is no backend (an Apple GPU, no package) the plan says so in one sentence."""

import json
from pathlib import Path

import pytest
import torch
from test_training import tiny_config

from studio.config import ConfigError
from studio.models.hardware import (
    BNB_OPTIMIZERS,
    bnb_problem,
    choose_device,
    choose_mps_precision,
)


def test_qlora_trains_a_4bit_base_on_the_cpu(tiny_model_dir, pref_file, tmp_path):
    import bitsandbytes as bnb

    from studio.training.train import ADAPTER_DIR, prepare, train

    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path / "run", max_steps=2)
    cfg.lora.qlora = True
    plan, *_, model = prepare(cfg)
    assert plan.device == "cpu"
    four_bit = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(four_bit) == 14  # q, k, v, o, gate, up, down in each of the 2 layers
    assert four_bit[0].weight.quant_type == "nf4" and four_bit[0].compute_dtype == plan.torch_dtype()
    del model

    summary = train(cfg, tmp_path / "run")
    assert summary["global_step"] == 2 and summary["memory_estimate_gib"] > 0
    losses = [json.loads(x)["loss"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
              if "loss" in json.loads(x)]
    assert len(losses) == 2
    from safetensors.torch import load_file

    adapter = load_file(tmp_path / "run" / ADAPTER_DIR / "adapter_model.safetensors")
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's mappings (Linux)")
def test_a_4bit_load_on_the_cpu_keeps_no_mapping_of_the_checkpoint(tmp_path):
    """transformers maps the safetensors file and leaves the unquantised weights (embeddings, norms, head) as
    views on it, which kept the whole full-precision file resident for the run (issue 20): no longer."""
    from safetensors.torch import load_file
    from tiny_model import build_tiny_model

    from studio.models.loading import ResolvedModel, load_model

    folder = build_tiny_model(tmp_path / "model")  # its own file: no other test's model maps it
    checkpoint = str((folder / "model.safetensors").resolve())
    model = load_model(ResolvedModel(str(folder), "tiny", True), dtype=torch.float32, quantize_4bit=True,
                       device_map={"": "cpu"})
    assert not [line for line in Path("/proc/self/maps").read_text().splitlines() if
    line.endswith(checkpoint)]
    saved = load_file(checkpoint)
    for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):  # copied, not changed
        assert torch.equal(model.get_parameter(name).detach(), saved[name]), name


@pytest.mark.parametrize("optimizer", BNB_OPTIMIZERS)
def test_bitsandbytes_optimizers_build_on_the_cpu(optimizer, tiny_model_dir, pref_file, tmp_path):
    import bitsandbytes as bnb

    from studio.training.train import prepare
    from studio.training.trainer import build_trainer

    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path, optimizer=optimizer)
    plan, _, tokenizer, _, data, model = prepare(cfg)
    trainer = build_trainer(cfg, tmp_path, model, tokenizer, data.dataset, plan)
    optim = trainer.create_optimizer()
    inner = getattr(optim, "optimizer", optim)
    assert isinstance(inner, bnb.optim.optimizer.Optimizer8bit), type(inner)
    params = [p for g in inner.param_groups for p in g["params"]]
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.ones_like(p)
    inner.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, params, strict=True))


def test_without_a_backend_qlora_and_8bit_optimizers_are_one_sentence():
    mac = bnb_problem("QLoRA 4-bit", "mps", {"cpu", "cuda", "mps"})
    missing = bnb_problem("The adamw_8bit optimizer", "cpu", None)
    old = bnb_problem("QLoRA 4-bit", "cpu", {"cuda"})
    for sentence in (mac, missing, old):
        assert sentence and sentence.count(". ") == 0 and sentence.endswith(".")
    assert "Apple GPU" in mac and "pip install bitsandbytes" in missing and "no cpu backend" in old
    assert bnb_problem("QLoRA 4-bit", "cpu", {"cpu", "cuda"}) is None
    assert bnb_problem("QLoRA 4-bit", "cuda", {"cpu", "cuda"}) is None


def test_the_device_plan_picks_an_apple_gpu_and_a_precision_it_supports():
    """Not run on a Mac (none here): the choice itself, as a pure function."""
    assert choose_device("auto", cuda=False, mps=True) == "mps"
    assert choose_device("auto", cuda=True, mps=False) == "cuda"
    assert choose_device("auto", cuda=False, mps=False) == "cpu"
    assert choose_device("cpu", cuda=False, mps=True) == "cpu"
    with pytest.raises(ConfigError, match="Apple GPU"):
        choose_device("mps", cuda=False, mps=False)
    assert choose_mps_precision("auto", bf16=True, fp16=True)[0] == "bf16"
    assert choose_mps_precision("auto", bf16=False, fp16=False)[0] == "fp32"
    with pytest.raises(ConfigError, match="torch 2.8"):
        choose_mps_precision("fp16", bf16=True, fp16=False)
