"""DeepSpeed ZeRO-2/3 as distributed.strategy: what the trainer is given on a GPU (the runs need GPUs and the
deepspeed package: tests/gpu); on a CPU the strategy changes nothing."""

import pytest
from test_training import tiny_config

from studio.config import ConfigError
from studio.models.hardware import DevicePlan, deepspeed_config
from studio.training.trainer import common_args


@pytest.mark.parametrize("strategy,stage", [("zero2", 2), ("zero3", 3)])
def test_zero_strategies_reach_the_trainer_on_a_gpu(strategy, stage, tiny_model_dir, pref_file, tmp_path):
    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path)
    cfg.distributed.strategy = strategy
    cfg.validate()
    gpu = DevicePlan("cuda", "GPU", "bf16", "", True)
    config = common_args(cfg, tmp_path, gpu)["deepspeed"]
    assert config == deepspeed_config(strategy) and config["zero_optimization"]["stage"] == stage
    # Batch, accumulation and precision come from the recipe through the Trainer ("auto"), never twice.
    assert config["train_micro_batch_size_per_gpu"] == "auto" and config["bf16"] == {"enabled": "auto"}
    assert ("stage3_gather_16bit_weights_on_model_save" in config["zero_optimization"]) is (stage == 3)
    cpu = DevicePlan("cpu", "CPU", "fp32", "", False)
    assert "deepspeed" not in common_args(cfg, tmp_path, cpu)


def test_other_strategies_are_one_sentence(tiny_model_dir, pref_file, tmp_path):
    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path)
    assert deepspeed_config("ddp") is None and deepspeed_config("fsdp") is None
    cfg.distributed.strategy = "zero1"
    with pytest.raises(ConfigError, match="must be one of ddp, fsdp, zero2, zero3, not .zero1."):
        cfg.validate()
