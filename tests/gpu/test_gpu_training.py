"""The GPU tier: bf16 LoRA SFT and DPO, QLoRA 4-bit through bitsandbytes, Liger kernels, and the memory
estimate against the measured peak for three real architectures built with random weights.

Runs where CUDA is present; elsewhere every test skips and says why. Figures (tokens/s against plain
TRL) live in bench/gpu_tokens.py, not in tests."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason=f"needs an NVIDIA GPU: torch.cuda.is_available() is False here (torch {torch.__version__})")

from jsonl_files import write_jsonl
from shapes import ARCHS, arch_config, long_rows

from studio.config import RunConfig


def gpu_config(model_dir, data_file, method: str, tmp_path, **training) -> RunConfig:
    return RunConfig.from_dict({
        "method": method, "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "training": {"learning_rate": 1e-3, "max_steps": 4, "batch_size": 2, "max_length": 128,
                     "save_steps": 100, **training},
        "output": {"dir": str(tmp_path / "run")},
    })


@pytest.fixture(scope="module")
def gpu_model_dir(tmp_path_factory):
    """The tiny tokenizer with a Llama wide enough for 4-bit blocks (hidden 256)."""
    from tiny_model import build_tiny_model
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = build_tiny_model(tmp_path_factory.mktemp("gpu-model"))
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(vocab_size=320, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                                 num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False,
                                 bos_token_id=0, eos_token_id=2, pad_token_id=3)).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_bf16_lora_trains_on_the_gpu(method, gpu_model_dir, sft_file, pref_file, tmp_path):
    from studio.training.train import train

    data = sft_file if method == "sft" else pref_file
    summary = train(gpu_config(gpu_model_dir, data, method, tmp_path), tmp_path / "run")
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    assert summary["device"] == "cuda" and summary["precision"] == expected, summary
    assert summary["gradient_checkpointing"] is True  # auto: on with a GPU
    assert summary["global_step"] == 4 and math.isfinite(summary["train_loss"])
    assert summary["peak_memory_source"] == "cuda max allocated" and summary["peak_memory_gib"] > 0
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()


def test_qlora_loads_4bit_and_trains(gpu_model_dir, pref_file, tmp_path):
    pytest.importorskip("bitsandbytes", reason="QLoRA needs the bitsandbytes package (make run installs it "
                        "on a machine with nvidia-smi)")
    from studio.training.train import prepare, train

    cfg = gpu_config(gpu_model_dir, pref_file, "dpo", tmp_path, precision="bf16")
    cfg.lora.qlora = True
    *_, model = prepare(cfg)
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    del model
    summary = train(cfg, tmp_path / "run")
    assert summary["global_step"] == 4 and math.isfinite(summary["train_loss"])


def test_liger_kernels_are_an_option(gpu_model_dir, sft_file, tmp_path):
    pytest.importorskip("liger_kernel", reason="Liger kernels need the liger-kernel package")
    from studio.training.train import prepare, train
    from studio.training.trainer import build_trainer

    cfg = gpu_config(gpu_model_dir, sft_file, "sft", tmp_path, use_liger_kernel=True)
    plan, _, tokenizer, _, data, model = prepare(cfg)
    assert build_trainer(cfg, tmp_path / "args", model, tokenizer, data.dataset, plan).args.use_liger_kernel
    del model
    summary = train(cfg, tmp_path / "run")
    assert summary["global_step"] == 4 and math.isfinite(summary["train_loss"])


@pytest.mark.parametrize("arch", ARCHS)
def test_memory_estimate_within_25_percent_of_the_peak(arch, tmp_path):
    """LoRA SFT, bf16, gradient checkpointing, batch 2 x 512 tokens on a random-weight model of that shape."""
    from tiny_model import build_tiny_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.data import load_training_data
    from studio.methods import get_method
    from studio.models.memory import PeakMemory, estimate_for_run, longest_sequence
    from studio.training.trainer import build_trainer, plan_device

    tok_dir = build_tiny_model(tmp_path / "tok")
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    data_file = write_jsonl(tmp_path / "long.jsonl", long_rows())
    cfg = gpu_config(tok_dir, data_file, "sft", tmp_path, max_length=512, max_steps=3)
    plan = plan_device(cfg)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(arch_config(arch), dtype=plan.torch_dtype())
    data = load_training_data(cfg.data, "sft")
    trainer = build_trainer(cfg, tmp_path / "run", model, tokenizer, data.dataset, plan)
    longest = longest_sequence(trainer.train_dataset, 512)
    assert longest == 512
    estimate = estimate_for_run(cfg, model, plan, get_method("sft"), longest)
    peak = PeakMemory("cuda")
    peak.start()
    trainer.train()
    measured = peak.peak_bytes() / 2**30
    print(f"{arch}: estimate {estimate.total_gib:.2f} GiB ({estimate.breakdown()}), peak {measured:.2f} GiB")
    assert abs(estimate.total_gib / measured - 1) <= 0.25, (arch, estimate.breakdown(), measured)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_gpus_train_one_run(strategy, gpu_model_dir, sft_file, tmp_path):
    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs two GPUs; this machine has {torch.cuda.device_count()}")
    from test_runs import final

    from studio import runs

    cfg = gpu_config(gpu_model_dir, sft_file, "sft", tmp_path)
    cfg.distributed.processes, cfg.distributed.strategy = 2, strategy
    info = final(runs.start_run(cfg).id, timeout=600)
    assert info.state == "completed" and info.step == 4, info.message
    summary = runs.read_summary(info.dir)
    assert summary["processes"] == 2 and summary["device"] == "cuda"
