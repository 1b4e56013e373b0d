"""RL with the data's written answers in each group (rl.written_answers): what is scored, what it moves."""

from __future__ import annotations

import pytest
from jsonl_files import write_jsonl
from test_training import tiny_config

from studio.config import ConfigError
from studio.data.read.files import DataError
from studio.evaluation.pairs import evaluate
from studio.rl.samples import read_samples
from studio.rl.written import written_slots
from studio.training.train import train
from studio.ui.samples_panel import samples_frame

CHOSEN, REJECTED = "No, it is fine and legal.", "Yes, go to jail."


def test_the_last_two_answers_of_each_prompts_run_are_the_written_ones():
    assert written_slots(["a"] * 4 + ["b"] * 4) == {2: "chosen", 3: "rejected", 6: "chosen", 7: "rejected"}
    # A group split between two processes (2 here) keeps its samples; a run of 3 keeps one.
    assert written_slots(["a", "a", "b", "b", "b"]) == {3: "chosen", 4: "rejected"}


def _config(tiny_model_dir, tmp_path, name: str, written: bool):
    rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})", "chosen": CHOSEN, "rejected": REJECTED}
            for i in range(4)]
    pairs = write_jsonl(tmp_path / "pairs.jsonl", rows)
    cfg = tiny_config(tiny_model_dir, pairs, "rl", tmp_path / name, max_steps=2, batch_size=4,
                      max_length=256)
    # A reward the tiny model's random samples never earn: only a written chosen answer does.
    cfg.rl.reward_functions = [{"type": "contains", "words": ["legal"], "weight": 1.0}]
    cfg.rl.num_generations, cfg.rl.max_completion_length, cfg.rl.written_answers = 4, 32, written
    return cfg, pairs


def test_written_answers_are_scored_in_the_group_and_move_the_pair_the_samples_never_would(
        tiny_model_dir, tmp_path):
    cfg, pairs = _config(tiny_model_dir, tmp_path, "written", True)
    assert train(cfg, tmp_path / "written")["global_step"] == 2
    samples = read_samples(tmp_path / "written")
    for step in {s["step"] for s in samples}:  # each group of 4: two samples, then chosen and rejected
        group = [s for s in samples if s["step"] == step]
        assert [s["completion"].strip() for s in group[2:]] == [CHOSEN, REJECTED]
        assert [s["rewards"]["contains"] for s in group[2:]] == [1.0, 0.0]
        assert group[2]["advantage"] > 0 > group[3]["advantage"]
        assert [s.get("written") for s in group] == [None, None, "chosen", "rejected"]
    shown = samples_frame(samples[:4])["From"]  # the RL samples table says which answers the data wrote
    assert list(shown) == ["sampled", "sampled", "data: chosen", "data: rejected"]
    moved = evaluate(tmp_path / "written", pairs, save=False)["tuned"]
    # Without them every answer scores 0: no advantage, and the pair's margin stays where it was.
    cfg, _ = _config(tiny_model_dir, tmp_path, "sampled", False)
    train(cfg, tmp_path / "sampled")
    still = evaluate(tmp_path / "sampled", pairs, save=False)["tuned"]
    print("margin with the written answers", moved["margin"], "without", still["margin"])
    assert moved["reward_accuracy"] == 1.0 and moved["margin"] > 0, moved
    assert abs(still["margin"]) < moved["margin"] / 10, (still, moved)


@pytest.mark.parametrize("change, sentence", [
    ({"algorithm": "grpo"}, "rl.written_answers needs rl.algorithm rloo"),
    ({"num_generations": 2}, "at least 4 answers per prompt"),
])
def test_written_answers_need_rloo_and_room_in_the_group(tiny_model_dir, tmp_path, change, sentence):
    cfg, _ = _config(tiny_model_dir, tmp_path, "bad", True)
    for key, value in change.items():
        setattr(cfg.rl, key, value)
    with pytest.raises(ConfigError, match=sentence):
        cfg.validate()


def test_rl_and_so_written_answers_need_pairs(tiny_model_dir, tmp_path):
    rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})", "response": CHOSEN} for i in range(4)]
    cfg = tiny_config(tiny_model_dir, write_jsonl(tmp_path / "sft.jsonl", rows), "rl", tmp_path / "run",
                      max_steps=1, batch_size=4, max_length=256)
    cfg.rl.reward_functions = [{"type": "contains", "words": ["legal"], "weight": 1.0}]
    cfg.rl.num_generations, cfg.rl.written_answers = 4, True
    with pytest.raises((ConfigError, DataError), match="preference pairs"):
        train(cfg, tmp_path / "run")
