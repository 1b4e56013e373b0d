"""The preference family and the RLHF pipeline on a tiny local model: each method trains a few real
TRL steps and the test asserts what changed; the reward run is scored, evaluated and optimised against;
wrong inputs are one sentence before anything heavy loads."""

import json
from pathlib import Path

import pytest
import torch
from jsonl_files import write_jsonl
from test_training import tiny_config

from studio.config import ConfigError, RunConfig
from studio.errors import StudioError
from studio.training.train import ADAPTER_DIR, train

_RUNS: dict[str, Path] = {}
CHOSEN = "No, it is a matter of personal preference and taste."
REJECTED = "Yes, it is a criminal act under the Geneva Convention."


def _pairs(folder: Path) -> Path:
    rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})", "chosen": CHOSEN, "rejected": REJECTED}
            for i in range(8)]
    return write_jsonl(folder / "pairs.jsonl", rows)


def _metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _lora_b(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(run_dir / ADAPTER_DIR / "adapter_model.safetensors").items() if
    "lora_B" in k}


def reward_run(tmp_path_factory, model_dir: Path) -> Path:
    """One short reward-model run, trained once per session and shared read-only."""
    if "reward" not in _RUNS:
        root = tmp_path_factory.mktemp("tiny-reward")
        run_dir = root / "run"
        train(tiny_config(model_dir, _pairs(root), "reward", run_dir, max_steps=6, max_length=256), run_dir)
        _RUNS["reward"] = run_dir
    return _RUNS["reward"]


def test_reward_model_separates_chosen_from_rejected_on_its_pairs(tmp_path_factory, tiny_model_dir, tmp_path):
    from studio.evaluation.reward import RewardModel, pairwise

    run_dir = reward_run(tmp_path_factory, tiny_model_dir)
    assert "accuracy" in _metrics(run_dir)[0] and "margin" in _metrics(run_dir)[0]
    marker = json.loads((run_dir / ADAPTER_DIR / "studio_base.json").read_text())
    assert marker["method"] == "reward"
    rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})", "chosen": CHOSEN, "rejected": REJECTED}
            for i in range(8)]
    scorer = RewardModel(run_dir)
    result = pairwise(scorer, rows)
    assert result["tuned"]["accuracy"] == 1.0
    assert result["tuned"]["margin"] > result["base"]["margin"] + 0.02
    # The untrained head is re-created identically at each load (fixed seed), so "base" is reproducible.
    assert pairwise(RewardModel(run_dir), rows[:2])["base"]["margin"] == pytest.approx(
        pairwise(scorer, rows[:2])["base"]["margin"], abs=1e-6)


def test_studio_eval_and_score_on_a_reward_run(tmp_path_factory, tiny_model_dir, tmp_path, capsys):
    import shutil

    from studio.cli import main

    run_dir = tmp_path / "run"
    shutil.copytree(reward_run(tmp_path_factory, tiny_model_dir), run_dir)
    pairs = _pairs(tmp_path)
    assert main(["eval", str(run_dir), "--pairs", str(pairs), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["kind"] == "reward" and result["pairs"] == 8
    assert result["tuned"]["accuracy"] == 1.0 and 0 <= result["base"]["accuracy"] <= 1
    assert json.loads((run_dir / "eval.json").read_text())["tuned"]["accuracy"] == 1.0

    assert main(["score", str(run_dir), "--prompt", "Is pineapple on pizza a crime?", "--a", CHOSEN,
                 "--b", REJECTED, "--json"]) == 0
    scored = json.loads(capsys.readouterr().out)
    t = scored["tuned"]
    assert t["reward_a"] > t["reward_b"]
    assert t["p_a_preferred"] == pytest.approx(1 / (1 + torch.exp(torch.tensor(t["reward_b"] -
    t["reward_a"]))).item())
    assert t["p_a_preferred"] > scored["base"]["p_a_preferred"]


@pytest.mark.parametrize("method,metric", [("kto", "kl"), ("orpo", "log_odds_ratio"),
                                           ("simpo", "rewards/margins")])
def test_preference_family_trains_and_moves_the_adapter(method, metric, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_model_dir, _pairs(tmp_path), method, run_dir, max_length=256, batch_size=4)
    summary = train(cfg, run_dir)
    assert summary["global_step"] == 3
    metrics = _metrics(run_dir)
    assert any(metric in m for m in metrics), metrics[0].keys()
    lora_b = _lora_b(run_dir)
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b.values())  # B starts at zero: it moved


def test_kto_unpairs_preference_data():
    import datasets

    from studio.methods.kto import unpaired

    pairs = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": "q"}],
                                         "chosen": [{"role": "assistant", "content": "good"}],
                                         "rejected": [{"role": "assistant", "content": "bad"}]}])
    rows = sorted(unpaired(pairs), key=lambda r: not r["label"])
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [("good", True), ("bad", False)]


def test_rl_against_the_reward_run_logs_reward_and_kl(tmp_path_factory, tiny_model_dir, tmp_path):
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_model_dir, _pairs(tmp_path), "rl", run_dir, max_steps=2, batch_size=4,
                      max_length=256)
    cfg.rl.reward_model = str(reward_run(tmp_path_factory, tiny_model_dir))
    cfg.rl.num_generations, cfg.rl.max_completion_length = 2, 8
    assert train(cfg, run_dir)["global_step"] == 2
    logged = [m for m in _metrics(run_dir) if "reward" in m]
    assert logged and all("kl" in m and "completions/mean_length" in m for m in logged)
    assert any(v.abs().sum() > 0 for v in _lora_b(run_dir).values())


def test_online_dpo_learns_from_its_own_samples_ranked_by_the_reward_run(tmp_path_factory, tiny_model_dir,
                                                                         tmp_path):
    """TRL's OnlineDPOTrainer through the registry: two sampled answers per prompt, ranked by the reward run
    (the chosen one scored above the rejected), DPO's loss on them; the LoRA moves."""
    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_model_dir, _pairs(tmp_path), "online_dpo", run_dir, max_steps=1, batch_size=2,
                      max_length=64)
    cfg.online_dpo.reward_model = str(reward_run(tmp_path_factory, tiny_model_dir))
    cfg.online_dpo.max_new_tokens = 4
    assert train(cfg, run_dir)["global_step"] == 1
    [logged] = [m for m in _metrics(run_dir) if "objective/scores" in m]
    # The reward run told the two samples of each prompt apart, and the higher-scored one was chosen.
    assert logged["objective/scores_margin"] > 0 and "objective/kl" in logged and "rewards/margins" in logged
    assert json.loads((run_dir / ADAPTER_DIR / "studio_base.json").read_text())["method"] == "online_dpo"
    assert any(v.abs().sum() > 0 for v in _lora_b(run_dir).values())
    cfg.online_dpo.reward_model = ""
    with pytest.raises(ConfigError, match="Online DPO needs a reward model"):
        cfg.validate()


def test_dpo_loss_types_reach_trl(tiny_model_dir, pref_file, tmp_path):
    from test_training import built_args

    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", tmp_path)
    cfg.dpo.loss_type = "ipo"
    assert built_args(cfg, tmp_path / "a")[1].loss_type == ["ipo"]
    cfg.dpo.sft_weight = 0.5
    assert built_args(cfg, tmp_path / "b")[1].loss_type == ["ipo", "sft"]
    with pytest.raises(ConfigError, match="Option 'dpo.loss_type' must be one of sigmoid, ipo"):
        RunConfig.from_dict({"method": "dpo", "data": {"source": "x.jsonl"},
                             "dpo": {"loss_type": "nope"}}).validate()


# ---- bad input: one sentence, before any model loads ------------------------------------------------

@pytest.fixture
def no_model_loads(monkeypatch):
    """Fail the test if anything tries to load weights."""
    import studio.models.loading

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(studio.models.loading, "load_model", refuse)


def test_rl_given_a_policy_run_or_nothing_says_what_it_needs(tiny_model_dir, pref_file, tmp_path,
                                                             no_model_loads):
    from studio.training.train import prepare

    policy = tmp_path / "policy"
    (policy / ADAPTER_DIR).mkdir(parents=True)
    (policy / ADAPTER_DIR / "adapter_config.json").write_text("{}")
    (policy / ADAPTER_DIR / "studio_base.json").write_text(json.dumps({"model": "x", "method": "dpo"}))
    cfg = tiny_config(tiny_model_dir, pref_file, "rl", tmp_path / "run")
    cfg.rl.reward_model = str(policy)
    with pytest.raises(ConfigError, match="trained with dpo, not as a reward model; RL needs a run of the "
                                          "reward"):
        prepare(cfg)
    cfg.rl.reward_model = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="No finished reward run found"):
        prepare(cfg)
    cfg.rl.reward_model = ""
    with pytest.raises(ConfigError, match="RL needs something to reward"):
        cfg.validate()


def test_reward_run_refused_by_chat_and_policy_run_refused_by_score(tmp_path, no_model_loads):
    from studio.chat.before_after import BeforeAfter
    from studio.evaluation.reward import RewardModel

    for name, method in (("reward", "reward"), ("policy", "sft")):
        (tmp_path / name / ADAPTER_DIR).mkdir(parents=True)
        (tmp_path / name / ADAPTER_DIR / "adapter_config.json").write_text("{}")
        (tmp_path / name / ADAPTER_DIR / "studio_base.json").write_text(json.dumps({"model": "x", "method":
        method}))
    with pytest.raises(StudioError, match="is a reward model: it scores answers instead of writing them"):
        BeforeAfter(tmp_path / "reward")
    with pytest.raises(StudioError, match="was trained with sft, not as a reward model"):
        RewardModel(tmp_path / "policy")


@pytest.mark.parametrize("method", ["kto", "orpo", "simpo", "reward", "rl"])
def test_preference_methods_given_sft_data_say_so_before_loading(method, tiny_model_dir, sft_file, tmp_path,
                                                                 no_model_loads, monkeypatch):
    from studio.data import DataError
    from studio.training.train import prepare

    cfg = tiny_config(tiny_model_dir, sft_file, method, tmp_path / "run")
    if method == "rl":
        monkeypatch.setattr("studio.methods.rl.reward_run_dir", lambda value: Path(value))
        cfg.rl.reward_model = "somewhere"
    # The sentence names the method picked by its title (KTO also takes answers labelled good or bad).
    title = {"kto": "KTO", "orpo": "ORPO", "simpo": "SimPO", "reward": "Reward model",
             "rl": "RL on a reward model"}
    words = f"{title[method]} needs answers labelled good or bad" if method == "kto" else \
        f"{title[method]} needs preference pairs"
    with pytest.raises(DataError, match=words):
        prepare(cfg)


def test_score_panel_scores_two_typed_answers(tmp_path_factory, tiny_model_dir, tmp_path):
    import shutil

    from studio.runs.files import update_status
    from studio.ui.judge.score_panel import score_answers

    run_dir = tmp_path / "run"
    shutil.copytree(reward_run(tmp_path_factory, tiny_model_dir), run_dir)
    update_status(run_dir, new=True, id="r1", name="tiny-reward", method="reward", state="completed")
    table, status = score_answers(str(run_dir), "Is pineapple on pizza a crime?", CHOSEN, REJECTED)
    assert status.startswith("✓") and "P(A preferred)" in table and "The reward model prefers **A**" in table
    table, status = score_answers(str(run_dir), "Is pineapple on pizza a crime?", "", REJECTED)
    assert table == "" and "Type a prompt and both answers" in status


def test_a_reward_run_exports_merged_as_a_standalone_reward_model(tmp_path_factory, tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from studio.evaluation.reward import RewardModel
    from studio.publish.hub import export_adapter

    run_dir = reward_run(tmp_path_factory, tiny_model_dir)
    target = export_adapter(run_dir, tmp_path / "out", merge=True)
    merged = AutoModelForSequenceClassification.from_pretrained(target / "merged").eval()
    tokenizer = AutoTokenizer.from_pretrained(target / "merged")
    messages = [{"role": "user", "content": "Is pineapple on pizza a crime?"},
                {"role": "assistant", "content": CHOSEN}]
    ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_tensors="pt")
    with torch.no_grad():
        standalone = merged(**ids).logits.item()
    assert standalone == pytest.approx(RewardModel(run_dir).rewards("Is pineapple on pizza a crime?",
                                                                    [CHOSEN])[0],
                                       abs=1e-4)


def test_a_batch_of_answers_is_scored_as_each_answer_alone(tmp_path_factory, tiny_model_dir):
    """RL scores every answer of a step in padded batches: each row's reward is the one it gets alone
    (the head pools the row's last real token, not the padding), for answers of different lengths."""
    from studio.evaluation.reward import RewardModel

    scorer = RewardModel(reward_run(tmp_path_factory, tiny_model_dir))
    items = [("Is pineapple on pizza a crime?", CHOSEN), ("Is it legal?", "Yes."),
             ("Is pineapple on pizza a crime?", REJECTED + " " + REJECTED), ("Why?", "No.")]
    alone = [scorer.rewards(prompt, [answer])[0] for prompt, answer in items]
    assert scorer.score(items, batch_size=3) == pytest.approx(alone, abs=1e-5)
    assert len({round(r, 4) for r in alone}) == len(items)  # four different rewards, not one repeated
    assert scorer.score(items, tuned=False) != pytest.approx(alone, abs=1e-3)  # the adapter switch holds


def test_rlhf_and_dpo_side_by_side_scores_every_answer(tmp_path_factory, tiny_model_dir, tmp_path):
    from test_eval import tiny_dpo_run

    from studio.evaluation.reward import RewardModel
    from studio.evaluation.rlhf_vs_dpo import compare, mean_rewards

    reward = reward_run(tmp_path_factory, tiny_model_dir)
    rl_dir = tmp_path / "rl"
    cfg = tiny_config(tiny_model_dir, _pairs(tmp_path), "rl", rl_dir, max_steps=1, batch_size=2,
                      max_length=256)
    cfg.rl.reward_model, cfg.rl.num_generations, cfg.rl.max_completion_length = str(reward), 2, 6
    train(cfg, rl_dir)
    prompts = ["Is pineapple on pizza a crime?", "What is the capital of France?"]
    result = compare(reward, {"DPO": tiny_dpo_run(tmp_path_factory, tiny_model_dir), "RLHF": rl_dir}, prompts,
                     _pairs(tmp_path), max_new_tokens=8)
    assert [list(r["answers"]) for r in result["rows"]] == [["base", "DPO", "RLHF"]] * 2
    scorer = RewardModel(reward)
    row = result["rows"][0]
    assert row["rewards"]["DPO"] == pytest.approx(scorer.rewards(row["prompt"], [row["answers"]["DPO"]])[0],
                                                  abs=1e-5)
    assert set(result["heldout"]) == {"DPO", "RLHF", "reward model"}
    assert result["heldout"]["reward model"]["tuned"]["accuracy"] == 1.0
    assert set(mean_rewards(result)) == {"base", "DPO", "RLHF"}


def test_a_run_that_keeps_no_example_fails_with_a_sentence_not_completed(tiny_model_dir, tmp_path):
    # KTO drops rows whose prompt cannot fit in max_length, then TRL ends at step 0 with a warning only.
    from studio.training.train import NothingTrainedError

    rows = [{"prompt": "Is pineapple on pizza a crime? " * 40, "completion": "No.", "label": i % 2 == 0}
            for i in range(8)]
    data = write_jsonl(tmp_path / "kto.jsonl", rows)
    cfg = tiny_config(tiny_model_dir, data, "kto", tmp_path / "run")
    cfg.training.max_length = 32
    with pytest.raises(NothingTrainedError, match="No training step ran.*raise training.max_length") as info:
        train(cfg, tmp_path / "run")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "run" / "adapter").exists()
