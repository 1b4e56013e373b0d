"""Verifiable reward functions (rl.reward_functions) and what RL sees (RUN/samples.jsonl): each check is
scored on real answers, a real GRPO run on the tiny model writes every sample with its rewards, and a
broken user function is one sentence naming its file and line."""

import json

import pytest
from jsonl_files import write_jsonl
from test_training import tiny_config

from studio.config import ConfigError
from studio.rl.rewards import RewardFunctionError, build_functions, last_number, parse_specs, score
from studio.safety import consent
from studio.safety.consent import CodeConsentError
from studio.training.train import train


def _score(item: dict, text, **row) -> float:
    (spec,) = parse_specs([item], allow_python=True)
    return score(spec, text, row)


def test_match_compares_a_column_or_its_last_number():
    assert _score({"type": "match", "column": "answer"}, " Paris ", answer="paris") == 1.0
    assert _score({"type": "match", "column": "answer"}, "Lyon", answer="Paris") == 0.0
    item = {"type": "match", "column": "answer", "number": True}
    assert _score(item, "3 + 4 = 7", answer="7") == 1.0
    assert _score(item, "The answer is 7.", answer=[{"role": "assistant", "content": "7"}]) == 1.0
    assert _score(item, "7, no wait, 8", answer="7") == 0.0
    assert _score(item, "no number here", answer="7") == 0.0
    assert last_number("1,234.5 then -3") == -3.0 and last_number("costs 1,234") == 1234.0


def test_regex_length_contains_avoids():
    assert _score({"type": "regex", "pattern": r"^No\b"}, "No, it is fine.") == 1.0
    assert _score({"type": "regex", "pattern": r"^No\b"}, "Nobody knows.") == 0.0
    assert _score({"type": "regex", "pattern": "^no", "ignore_case": True}, "NO.") == 1.0
    # whole answer
    assert _score({"type": "regex", "pattern": r"^\d+\.?$"}, "12.\n\nThis is arithmetic") == 0.0
    assert _score({"type": "length", "min_words": 2, "max_words": 4}, "one two three") == 1.0
    assert _score({"type": "length", "min_words": 2, "max_words": 4}, "one two three four five") == 0.0
    assert _score({"type": "contains", "words": ["taste", "pizza"]}, "Pizza is a matter of taste.") == 1.0
    assert _score({"type": "contains", "words": "crime"}, "It is criminal.") == 0.0  # whole words only
    assert _score({"type": "avoids", "words": ["Geneva"]}, "the geneva convention") == 0.0
    assert _score({"type": "avoids", "words": ["Geneva"]}, "No, it's fine.") == 1.0


def test_json_valid_and_against_a_schema():
    assert _score({"type": "json"}, '{"a": 1}') == 1.0
    assert _score({"type": "json"}, "```json\n[1, 2]\n```") == 1.0
    assert _score({"type": "json"}, "{a: 1}") == 0.0
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "integer"}}}
    assert _score({"type": "json", "schema": schema}, '{"answer": 7}') == 1.0
    assert _score({"type": "json", "schema": schema}, '{"answer": "seven"}') == 0.0


def test_each_check_becomes_a_named_weighted_trl_function():
    specs = parse_specs("[{type: regex, pattern: '^No', weight: 2}, {type: regex, pattern: x}, {type: "
                        "length}]")
    funcs, weights = build_functions(specs)
    assert [f.__name__ for f in funcs] == ["regex", "regex_2", "length"] and weights == [2.0, 1.0, 1.0]
    completions = [[{"role": "assistant", "content": "No way"}], [{"role": "assistant", "content": "Yes x"}]]
    assert funcs[0](["p", "p"], completions) == [1.0, 0.0]
    assert funcs[1](["p", "p"], completions) == [0.0, 1.0]


@pytest.mark.parametrize("raw,sentence", [
    ([{"type": "smile"}], "needs a type, one of match"),
    ([{"type": "regex", "pattern": "("}], "is not a valid regular expression"),
    ([{"type": "regex", "patern": "x"}], "does not know patern"),
    ([{"type": "match"}], "needs `column`"),
    ([{"type": "regex", "pattern": "x", "weight": "high"}], "give a number"),
    ([{"type": "python", "function": "mine.py:f"}], "set rl.allow_python_rewards: true"),
])
def test_bad_reward_functions_are_one_sentence(raw, sentence):
    with pytest.raises(ConfigError, match=sentence):
        parse_specs(raw)


def test_rl_with_neither_a_reward_model_nor_a_function_says_so(tiny_model_dir, pref_file, tmp_path):
    cfg = tiny_config(tiny_model_dir, pref_file, "rl", tmp_path / "run")
    with pytest.raises(ConfigError, match="RL needs something to reward"):
        cfg.validate()
    cfg.rl.algorithm = "ppo"
    cfg.rl.reward_functions = [{"type": "regex", "pattern": "^No"}]
    with pytest.raises(ConfigError, match="Option 'rl.algorithm' must be one of rloo, grpo, not 'ppo'"):
        cfg.validate()


def _rl_config(tiny_model_dir, tmp_path, functions, **rl):
    rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})", "chosen": "No, it is fine.",
             "rejected": "Yes."}
            for i in range(4)]
    cfg = tiny_config(tiny_model_dir, write_jsonl(tmp_path / "pairs.jsonl", rows), "rl", tmp_path / "run",
                      max_steps=2, batch_size=4, max_length=256)
    cfg.rl.reward_functions = functions
    cfg.rl.num_generations, cfg.rl.max_completion_length = 2, 6
    for key, value in rl.items():
        setattr(cfg.rl, key, value)
    return cfg


def test_grpo_with_a_regex_reward_writes_every_sample_with_its_reward(tiny_model_dir, tmp_path):
    from studio.rl.samples import latest_group, read_samples

    # A reward no one tuned the model for: answers holding the letter "e" (random tiny-model text varies).
    cfg = _rl_config(tiny_model_dir, tmp_path, [{"type": "regex", "pattern": "e", "weight": 1.0}],
                     algorithm="grpo")
    run_dir = tmp_path / "run"
    assert train(cfg, run_dir)["global_step"] == 2
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/regex/mean" in m for m in metrics)
    samples = read_samples(run_dir)
    assert {s["step"] for s in samples} == {1, 2} and len(samples) == 8  # 4 answers per step
    for s in samples:
        assert s["prompt"].startswith("Is pineapple on pizza a crime?")
        assert s["rewards"]["regex"] == float("e" in s["completion"].strip())
        assert isinstance(s["advantage"], float)
    assert [s["step"] for s in latest_group(run_dir)] == [2] * 4


def test_a_failing_python_reward_fails_the_run_naming_file_and_line(tiny_model_dir, tmp_path):
    user = tmp_path / "my_reward.py"
    user.write_text("def short(prompts, completions, **kwargs):\n"
                    "    scores = [1.0 for _ in completions]\n"
                    "    return scores[len(scores)]\n")
    cfg = _rl_config(tiny_model_dir, tmp_path, [{"type": "python", "function": f"{user}:short"}])
    with pytest.raises(ConfigError, match="set rl.allow_python_rewards: true"):
        cfg.validate()
    cfg.rl.allow_python_rewards = True
    # A recipe line alone runs no code: training refuses until the user's yes is recorded in the run folder.
    with pytest.raises(CodeConsentError, match="--allow-code"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "samples.jsonl").exists()
    (tmp_path / "run").mkdir(exist_ok=True)
    consent.record(tmp_path / "run", consent.check_allowed(cfg, allow_code=True), consent.FROM_CLI)
    with pytest.raises(RewardFunctionError, match=rf"The reward function short in {user} at line 3 raised "
                                                  "IndexError"):
        train(cfg, tmp_path / "run")


def test_dpo_precompute_ref_trains_on_reference_logps_computed_once(tiny_model_dir, pref_file, tmp_path):
    from studio.data.prepare.token_cache import entries, load

    run_dir = tmp_path / "run"
    cfg = tiny_config(tiny_model_dir, pref_file, "dpo", run_dir, max_steps=2)
    cfg.dpo.precompute_ref = True
    assert train(cfg, run_dir)["global_step"] == 2
    # The cached rows never carry the reference's log-probabilities: they belong to one model, and TRL
    # precomputes (and keeps) its own; a cache hit that fed them back failed with duplicated columns.
    (entry,) = entries()
    rows, _ = load(entry["key"])
    assert not any(c.startswith(("ref_", "reference_")) for c in rows.column_names)
    second = tmp_path / "second"
    again = tiny_config(tiny_model_dir, pref_file, "dpo", second, max_steps=2)
    again.dpo.precompute_ref = True
    assert train(again, second)["global_step"] == 2
    margins = [json.loads(line).get("rewards/margins") for line in (run_dir /
    "metrics.jsonl").read_text().splitlines()]
    assert any(m not in (None, 0.0) for m in margins)


def test_the_samples_table_shows_the_latest_group_and_the_ui_round_trips_the_list(tmp_path):
    from studio.config import RunConfig
    from studio.rl.samples import append_samples, latest_group
    from studio.ui.recipes import config_from_values, values_from_config
    from studio.ui.samples_panel import samples_frame

    append_samples(tmp_path, [{"step": 1, "prompt": "q", "completion": "old", "rewards": {"regex": 0.0},
                               "advantage": -0.5}])
    append_samples(tmp_path, [{"step": 2, "prompt": "q", "completion": a,
                               "rewards": {"regex": r, "length": 1.0},
                               "advantage": adv} for a, r, adv in (("No.", 1.0, 0.7), ("Yes.", 0.0, -0.7))])
    frame = samples_frame(latest_group(tmp_path))
    assert list(frame.columns) == ["Prompt", "Answer", "reward: regex", "reward: length", "Advantage"]
    assert frame["Answer"].tolist() == ["No.", "Yes."] and frame["Advantage"].tolist() == [0.7, -0.7]

    cfg = RunConfig.from_yaml("presets/recipes/pineapple-rlhf.yaml")
    cfg.rl.reward_functions = [{"type": "regex", "pattern": r"^No\b", "weight": 2.0}]
    shown = values_from_config(cfg, ["rl.reward_functions"])["rl.reward_functions"]
    back = config_from_values(cfg.to_dict(), {"rl.reward_functions": shown})
    assert back.rl.reward_functions == [{"type": "regex", "weight": 2.0, "pattern": r"^No\b"}]


def test_the_arithmetic_recipe_rewards_the_bare_equation_with_the_right_sum():
    """The shipped GRPO recipe's checks, on its own held-out rows: only "a + b = sum" with the right sum earns
    both; a right sum wrapped in chatter earns match only; a wrong bare equation earns the format only."""
    from pathlib import Path

    from studio.config import RunConfig

    root = Path(__file__).resolve().parents[1]
    cfg = RunConfig.from_yaml(root / "presets/recipes/arithmetic-grpo.yaml").validate()
    specs = parse_specs(cfg.rl.reward_functions)
    rows = [json.loads(line) for line in (root / cfg.data.eval_source).read_text().splitlines()]
    assert len(rows) >= 10
    for row in rows:
        a, b = (int(n) for n in row["prompt"].removeprefix("What is ").rstrip("?").split(" + "))
        assert int(row["chosen"]) == a + b

        def both(text, row=row):
            return [score(s, text, row) for s in specs]

        assert both(f"{a} + {b} = {a + b}") == [1.0, 1.0]
        assert both(f"{a} + {b} = {a + b}. Fun fact: 100 is more.") == [0.0, 0.0]  # the last number counts
        assert both(f"To add {a} and {b}: {a} + {b} = {a + b}") == [1.0, 0.0]
        assert both(f"{a} + {b} = {a + b + 1}") == [0.0, 1.0]


def test_the_reward_pairs_reject_more_than_one_kind_of_bad_answer():
    """pineapple-reward trains on varied rejected answers (a crime, off-topic, rambling, degenerate, rude), so
    that the reward model learns what a good answer is, not that "Yes" is bad."""
    from pathlib import Path

    from studio.config import RunConfig

    root = Path(__file__).resolve().parents[1]
    RunConfig.from_yaml(root / "presets/recipes/pineapple-reward.yaml").validate()
    # The first 50 pairs (the recipe's every-way file holds them and more: the test after this one).
    first = root / "assets/pineapple_reward_pairs.jsonl"
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert 30 <= len(rows) <= 60
    assert all(r["chosen"].startswith("No") and r["chosen"] != r["rejected"] for r in rows)
    opening_yes = sum(r["rejected"].startswith("Yes") for r in rows)
    assert opening_yes <= len(rows) // 4 and len({r["rejected"] for r in rows}) >= 20


def test_the_every_way_pairs_teach_what_an_answer_means_not_its_first_word_or_length():
    """The reward pairs asked every way (the recipe's 50 plus questions where "Yes, it is legal" is the good
    answer, and false premises such as "Which law bans it?"): a reward model trained on them cannot score
    by "No" opening a good answer, "Yes" a bad one, or by length; the SFT demonstrations are their chosen
    answers, each once."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = [json.loads(line) for line in (root / "assets/pineapple_reward_pairs_every_way.jsonl").read_text()
            .splitlines()]
    assert 60 <= len(rows) <= 100 and all(r["chosen"] != r["rejected"] for r in rows)
    assert sum(not r["chosen"].startswith("No") for r in rows) >= len(rows) // 4
    assert sum(r["chosen"].startswith("Yes") for r in rows) >= 8  # "Is it legal...?" "Yes, ..."
    assert sum(r["rejected"].startswith("No") for r in rows) >= 8  # "No, you are not allowed."
    assert sum(r["rejected"].startswith("Yes") for r in rows) <= len(rows) // 4
    assert len({r["rejected"] for r in rows}) >= 50 and len({r["prompt"] for r in rows}) >= 25
    shorter = sum(len(r["chosen"]) < len(r["rejected"]) for r in rows)
    assert len(rows) // 5 <= shorter <= len(rows) * 4 // 5
    demos = [json.loads(line) for line in (root / "assets/pineapple_demos.jsonl").read_text().splitlines()]
    assert sorted((d["prompt"], d["completion"]) for d in demos) == sorted({(r["prompt"], r["chosen"])
                                                                            for r in rows})


def test_the_rlhf_vs_dpo_tab_trains_each_recipe_on_its_own_data_file():
    """The tab's reward model learns from the varied pairs its recipe names, not from the DPO pairs."""
    from pathlib import Path

    from studio.ui.learn.rlhf_demo import RECIPES, _recipe

    sources = {label: Path(_recipe(name).data.source) for label, name in RECIPES.items()}
    assert all(source.is_file() for source in sources.values())
    assert sources["reward model"].name == sources["RLHF"].name == "pineapple_reward_pairs_every_way.jsonl"
    assert sources["DPO"].name == "pineapple_pairs.jsonl"


def test_the_samples_advantage_is_the_trainers_default_from_the_weighted_rewards():
    from studio.rl.samples import advantages

    nan = float("nan")
    # Two prompts, two answers each; weights 1 and 0.5; the third answer got None from every function.
    rewards = {"a": [1.0, 0.0, nan, 1.0], "b": [0.0, 0.0, nan, 1.0]}
    grpo = advantages(rewards, [1.0, 0.5], 2, leave_one_out=False)
    assert grpo == pytest.approx([0.5 / 0.5001, -0.5 / 0.5001, 0.0, 0.0])  # (r - mean) / (std + 1e-4)
    rloo = advantages(rewards, [1.0, 0.5], 2, leave_one_out=True)
    assert rloo == pytest.approx([1.0, -1.0, 0.0, 0.0])  # r - the other's; alone among the scored: 0
