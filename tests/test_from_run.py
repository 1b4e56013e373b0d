"""A run that starts from a finished run (RLHF after SFT): `model.name: run:NAME` trains a fresh adapter on
the finished run's model, whose adapter is merged in once, and that model is the new run's reference."""

import json

import pytest
import torch
from test_methods import _pairs, reward_run
from test_training import tiny_config

from studio.config import ConfigError
from studio.training.train import train


def _logits(model, tokenizer, text: str):
    ids = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits


def test_dpo_from_a_finished_sft_run_keeps_that_run_as_its_reference(tiny_model_dir, sft_file, tmp_path,
                                                                       tmp_path_factory, monkeypatch):
    from studio.chat.before_after import BeforeAfter
    from studio.paths import model_cache_dir, runs_dir
    from studio.training.from_run import FOLDER, start_model

    monkeypatch.setenv("STUDIO_MODEL_CACHE", str(tmp_path / "cache"))
    sft_dir = runs_dir() / "20261207-120000-tiny-sft"
    train(tiny_config(tiny_model_dir, sft_file, "sft", sft_dir, max_steps=3), sft_dir)
    text = "Is pineapple on pizza a crime? No, it is a matter of taste."
    sft = BeforeAfter(sft_dir)
    with sft._lock:
        sft_logits = _logits(sft.model, sft.tokenizer, text)
        with sft.model.disable_adapter():
            assert not torch.allclose(_logits(sft.model, sft.tokenizer, text), sft_logits, atol=1e-3)

    dpo_dir = tmp_path / "dpo"
    cfg = tiny_config(tiny_model_dir, _pairs(tmp_path), "dpo", dpo_dir, max_steps=2, max_length=256)
    cfg.model.name = "run:tiny-sft"  # by its name: the newest finished run of that name
    train(cfg, dpo_dir)
    merged = list((model_cache_dir() / FOLDER).iterdir())
    assert len(merged) == 1 and (merged[0] / "config.json").is_file()
    assert json.loads((merged[0] / "studio_source.json").read_text())["run"] == str(sft_dir.resolve())
    stamp = (merged[0] / "model.safetensors").stat().st_mtime_ns
    assert start_model(str(sft_dir)).path == str(merged[0])  # its folder names it too; merged once
    assert (merged[0] / "model.safetensors").stat().st_mtime_ns == stamp

    from studio.runs.adapters import run_base

    assert run_base(dpo_dir) == str(merged[0])  # loadable later without looking the name up again
    dpo = BeforeAfter(dpo_dir)
    with dpo._lock:
        with dpo.model.disable_adapter():  # the reference DPO measured against: the SFT run's model
            assert torch.allclose(_logits(dpo.model, dpo.tokenizer, text), sft_logits, atol=1e-4)
        assert not torch.allclose(_logits(dpo.model, dpo.tokenizer, text), sft_logits, atol=1e-3)


def test_starting_from_a_reward_run_or_a_missing_run_is_one_sentence(tiny_model_dir, tmp_path,
                                                                     tmp_path_factory):
    from studio.training.from_run import start_model

    with pytest.raises(ConfigError, match="is a reward model .* start from a chat run"):
        start_model(str(reward_run(tmp_path_factory, tiny_model_dir)))
    with pytest.raises(ConfigError, match="No finished run named 'nobody-trained-this'"):
        start_model("run:nobody-trained-this")
