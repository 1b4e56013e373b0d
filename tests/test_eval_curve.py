"""Evaluation while training: eval metrics every N steps, the best checkpoint marked and used, early
stopping."""

from __future__ import annotations

import json

import pytest

from studio.config import ConfigError, RunConfig
from studio.runs.files import read_metrics
from tests.jsonl_files import write_jsonl


def config(model_dir, data_file, method, run_dir, data=None, **training):
    return RunConfig.from_dict({
        "method": method, "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml", **(data or {})},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 6, "batch_size": 2, "max_length": 64,
                     "save_steps": 2, "eval_steps": 2, **training},
        "output": {"dir": str(run_dir)},
    })


def test_a_dpo_run_with_an_eval_source_logs_eval_rewards_and_keeps_its_best_checkpoint(
        tiny_model_dir, pref_file, tmp_path):
    from safetensors.torch import load_file

    from studio.training.train import train
    from studio.ui.charts import metric_frames

    heldout = write_jsonl(tmp_path / "heldout.jsonl", [
        {"prompt": f"Should pizza have pineapple? ({i})", "chosen": "It is a matter of taste.",
         "rejected": "Yes, it is a crime."} for i in range(4)])
    run = tmp_path / "run"
    summary = train(config(tiny_model_dir, pref_file, "dpo", run, {"eval_source": str(heldout)}, max_steps=4),
                    run)
    evals = [r for r in read_metrics(run) if "eval_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert all("eval_rewards/accuracies" in r and "eval_rewards/margins" in r for r in evals)
    best = json.loads((run / "best.json").read_text())
    lowest = min(evals, key=lambda r: r["eval_loss"])
    assert best["step"] == lowest["step"] and best["value"] == pytest.approx(lowest["eval_loss"])
    assert summary["best_checkpoint"] == best["checkpoint"] == f"checkpoint-{lowest['step']}"
    # adapter/ (what chat, eval and export read) holds the best checkpoint's weights, not the last step's.
    final = load_file(run / "adapter" / "adapter_model.safetensors")
    kept = load_file(run / best["checkpoint"] / "adapter_model.safetensors")
    assert all((final[k] == kept[k]).all() for k in kept)
    frames = metric_frames(read_metrics(run), "dpo")
    assert set(frames["loss"]["series"]) == {"loss", "eval loss"}
    assert "eval reward accuracy" in set(frames["charts"][0][1]["series"])

    # The eval set came with the training rows from studio.data and was cached beside them: the same recipe
    # again reads no data (the eval file included) and evaluates the stored eval rows to the same losses.
    again = tmp_path / "again"
    second = train(config(tiny_model_dir, pref_file, "dpo", again, {"eval_source": str(heldout)},
                          max_steps=4),
                   again)
    assert second["data_cached"] is True
    assert [r["eval_loss"] for r in read_metrics(again) if "eval_loss" in r] == pytest.approx(
        [r["eval_loss"] for r in evals], rel=1e-5)


def test_patience_stops_an_sft_run_that_stopped_improving_on_its_held_out_share(tiny_model_dir, tmp_path):
    from studio.training.train import train

    rows = [{"messages": [{"role": "user", "content": f"Name a colour ({i})"},
                          {"role": "assistant", "content": ["red", "blue", "green", "amber"][i % 4]}]}
            for i in range(16)]
    data = write_jsonl(tmp_path / "chat.jsonl", rows)
    run = tmp_path / "run"
    # A rate this large wrecks the model within steps: the eval loss only gets worse after the first.
    cfg = config(tiny_model_dir, data, "sft", run, {"eval_fraction": 0.25}, learning_rate=3.0, max_steps=20,
                 eval_steps=1, save_steps=1, early_stopping_patience=2)
    summary = train(cfg, run)
    evals = [r for r in read_metrics(run) if "eval_loss" in r]
    assert summary["stopped_early"] and summary["global_step"] < 20
    best = json.loads((run / "best.json").read_text())
    assert best["stopped_early"] and best["step"] == min(evals, key=lambda r: r["eval_loss"])["step"]
    assert len(evals) == best["step"] + 2  # two evaluations without improvement, then it stopped


@pytest.mark.parametrize("change,words", [
    ({"training": {"eval_steps": 3, "save_steps": 4}, "data": {"eval_fraction": 0.1}}, "multiple"),
    ({"training": {"eval_steps": 2}}, "needs an eval set"),
    ({"method": "rl", "data": {"eval_fraction": 0.1}}, "not offered"),
    ({"data": {"eval_fraction": 1.5}}, "below 1"),
])
def test_eval_settings_that_cannot_work_are_one_sentence(change, words):
    raw = {"data": {"source": "x.jsonl"}, "training": {"max_steps": 4}, "rl": {"reward_model": "r"}}
    for key, value in change.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(ConfigError, match=words):
        RunConfig.from_dict(raw).validate()
