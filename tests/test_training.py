"""Real TRL trainers on a tiny local model: what changed, what did not, and the adapter round-trip."""

import json

import pytest
import torch

from studio.config import RunConfig
from studio.training.train import ADAPTER_DIR, train


def tiny_config(model_dir, data_file, method, run_dir, **training):
    return RunConfig.from_dict({
        "method": method,
        "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 3, "batch_size": 2, "max_length": 64,
                     "save_steps": 100, **training},
        "output": {"dir": str(run_dir)},
    })


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_training_changes_lora_only_and_adapter_round_trips(method, tiny_model_dir, pref_file, sft_file,
                                                            tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_model_dir, pref_file if method == "dpo" else sft_file, method, run_dir)
    base_before = _weights(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    summary = train(cfg, run_dir)

    assert summary["global_step"] == 3
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if "loss" in m] == [1, 2, 3]
    if method == "dpo":
        assert "rewards/margins" in metrics[0]

    # The base weights on disk are untouched, the adapter's B matrices moved away from zero init.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    for name, tensor in base.state_dict().items():
        assert torch.equal(tensor, base_before[name]), name
    tuned = PeftModel.from_pretrained(base, str(run_dir / ADAPTER_DIR))
    lora_b = {k: v for k, v in tuned.state_dict().items() if "lora_B" in k}
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b.values())

    # Round trip: saving the loaded adapter again and reloading gives equal tensors.
    tuned.save_pretrained(tmp_path / "again")
    from safetensors.torch import load_file

    first = load_file(run_dir / ADAPTER_DIR / "adapter_model.safetensors")
    second = load_file(tmp_path / "again" / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


def built_args(cfg, run_dir):
    """The arguments of the trainer the studio really builds for ``cfg`` (tiny model, no training)."""
    from studio.training.train import prepare
    from studio.training.trainer import build_trainer

    plan, _, tokenizer, _, data, model = prepare(cfg)
    return plan, build_trainer(cfg, run_dir, model, tokenizer, data.dataset, plan).args


def test_cpu_defaults_override_trl(tiny_model_dir, pref_file, tmp_path):
    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path)
    plan, args = built_args(cfg, tmp_path)
    from studio.models.hardware import cpu_info

    assert plan.device == "cpu"
    # bf16 exactly where the CPU has bf16 units; never TRL's checkpointing default on a CPU.
    assert args.bf16 is bool(cpu_info()[1]) and plan.precision == ("bf16" if args.bf16 else "fp32")
    assert args.gradient_checkpointing is False
    assert args.beta == cfg.dpo.beta and args.lr_scheduler_type == "cosine"


def test_sft_weight_adds_trl_sft_loss_on_chosen(tiny_model_dir, pref_file, tmp_path):
    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path)
    _, plain = built_args(cfg, tmp_path / "plain")
    assert plain.loss_type == ["sigmoid"]
    cfg.dpo.sft_weight = 0.5
    _, mixed = built_args(cfg, tmp_path / "mixed")
    assert mixed.loss_type == ["sigmoid", "sft"] and mixed.loss_weights == [1.0, 0.5]


@pytest.mark.parametrize("preset", [None, "ACTIVE"])
def test_studio_processes_start_torch_with_passive_openmp_threads(preset):
    """Importing studio before torch makes torch's OpenMP runtime wait passively (it spun by default: 4-5x
    slower sampling on a loaded 2-core CPU); a policy the user set is kept. libgomp itself says how long its
    threads spin (OMP_DISPLAY_ENV=VERBOSE: 300000 by default, 0 when passive), so this
    fails if the setting lands after torch loads."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update({"OMP_DISPLAY_ENV": "VERBOSE", **({"OMP_WAIT_POLICY": preset} if preset else {})})
    done = subprocess.run([sys.executable, "-c", "import studio, torch; torch.ones(4).sum()"], env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    shown = done.stdout + done.stderr
    if preset:
        assert f"OMP_WAIT_POLICY = '{preset}'" in shown
    else:  # its display says PASSIVE for an unset policy too; the spin count tells them apart
        assert "GOMP_SPINCOUNT = '0'" in shown
