"""RunConfig: YAML round trip, dotted overrides, unknown keys, and each validation sentence."""

from pathlib import Path

import pytest

from studio.config import ConfigError, RunConfig, help_text

ROOT = Path(__file__).resolve().parent.parent
RECIPES = sorted((ROOT / "presets" / "recipes").glob("*.yaml"))


def valid(**sections) -> dict:
    raw = {"method": "dpo", "data": {"source": "pairs.jsonl"}, "training": {"max_steps": 2}}
    for key, value in sections.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    return raw


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig.from_dict(valid(method="dpo", lora={"r": 8}, dpo={"beta": 0.2}))
    cfg.save(tmp_path / "c.yaml")
    again = RunConfig.from_yaml(tmp_path / "c.yaml")
    assert again == cfg
    assert again.lora.r == 8 and again.dpo.beta == 0.2


def test_options_that_moved_into_a_method_section_still_load(tmp_path):
    # Recipes and run folders written before the method registry kept DPO's options under training.
    (tmp_path / "old.yaml").write_text("method: dpo\ndata: {source: x.jsonl}\ntraining: {beta: 0.3, "
                                       "sft_weight: 1.0}\n")
    cfg = RunConfig.from_yaml(tmp_path / "old.yaml").validate()
    assert cfg.dpo.beta == 0.3 and cfg.dpo.sft_weight == 1.0
    assert "beta" not in cfg.to_dict()["training"] and cfg.to_dict()["dpo"]["beta"] == 0.3


def test_only_the_chosen_methods_section_is_written():
    assert "dpo" not in RunConfig.from_dict(valid(method="sft")).to_dict()
    dpo = RunConfig.from_dict(valid(method="dpo")).to_dict()["dpo"]
    assert dpo == {"loss_type": "sigmoid", "beta": 0.1, "sft_weight": 0.0, "precompute_ref": False}


def test_overrides_are_typed_and_nested(tmp_path):
    (tmp_path / "c.yaml").write_text(RunConfig.from_dict(valid()).to_yaml())
    cfg = RunConfig.from_yaml(tmp_path / "c.yaml", ["training.max_steps=1", "output.dir=runs/try1",
                                                    "training.learning_rate=5e-6", "lora.enabled=false"])
    assert cfg.training.max_steps == 1 and cfg.output.dir == "runs/try1"
    assert cfg.training.learning_rate == 5e-6 and cfg.lora.enabled is False


@pytest.mark.parametrize("raw, message", [
    ({"trainig": {}}, "Unknown option 'trainig'"),
    ({"training": {"lr": 1}}, "Unknown option 'training.lr'"),
    ({"training": {"batch_size": "four"}}, "must be a whole number"),
])
def test_unknown_keys_and_wrong_types_are_rejected(raw, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(valid(**raw))


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="key=value"):
        RunConfig.from_dict(valid()).with_overrides(["training.max_steps"])


@pytest.mark.parametrize("sections, message", [
    ({"training": {"learning_rate": 0}}, "Learning rate must be above 0"),
    ({"training": {"learning_rate": -1e-5}}, "Learning rate must be above 0"),
    ({"lora": {"r": 0}}, "LoRA rank r must be at least 1"),
    ({"lora": {"alpha": 0}}, "LoRA alpha must be above 0"),
    ({"lora": {"dropout": 1.0}}, "dropout must be at least 0 and below 1"),
    ({"lora": {"dropout": -0.1}}, "dropout must be at least 0 and below 1"),
    ({"method": "dpo", "dpo": {"beta": 0}}, "beta must be above 0 and at most 10"),
    ({"method": "dpo", "dpo": {"beta": 10.5}}, "beta must be above 0 and at most 10"),
    ({"training": {"batch_size": 0}}, "Batch size must be at least 1"),
    ({"method": "dpo", "dpo": {"sft_weight": -1}}, "SFT weight cannot be negative"),
    ({"training": {"max_length": 8}}, "Max length must be at least 16"),
    ({"training": {"num_epochs": None, "max_steps": None}},
     "Set either training.num_epochs or training.max_steps"),
    ({"data": {"source": ""}}, "No dataset given"),
    ({"method": "ppo"},
     "Method must be one of sft, reward, rl, online_dpo, dpo, kto, orpo, simpo, classify, not 'ppo'"),
    ({"data": {"template": "alpaca"}},
     "Option 'data.template' must be one of auto, model, chatml, llama2, zephyr"),
    ({"training": {"report_to": "tensorboard, mlflow"}},
     "Option 'training.report_to' must be one of none, .*not 'mlflow'"),
])
def test_validation_sentences(sections, message):
    cfg = RunConfig.from_dict(valid(**sections))
    with pytest.raises(ConfigError, match=message) as info:
        cfg.validate()
    text = str(info.value)
    assert text.endswith(".") and "\n" not in text


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_yaml(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("method: [dpo\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.from_yaml(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        RunConfig.from_yaml(tmp_path / "list.yaml")


def test_help_text_is_written_once_on_the_fields():
    assert "0.01-1.0" in help_text("dpo.beta")
    assert "100x smaller" in help_text("training.learning_rate")
    with pytest.raises(KeyError):
        help_text("training.nope")


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_shipped_recipes_are_valid_and_name_their_command(recipe):
    RunConfig.from_yaml(recipe).validate()
    assert f"studio train presets/recipes/{recipe.name}" in recipe.read_text()


def test_dpo_recipes_follow_the_field_advice():
    zephyr = RunConfig.from_yaml(ROOT / "presets/recipes/zephyr-style-dpo.yaml")
    assert zephyr.dpo.beta == 0.01 and zephyr.training.lr_scheduler == "cosine"
    assert zephyr.training.learning_rate == 5e-6 and zephyr.training.optimizer.startswith("adam")


def test_every_option_with_fixed_values_is_checked_from_its_metadata_and_shown_alike():
    """The values are declared once, on the field: validate(), the UI's dropdown and the CLI's help read
    them."""
    from studio.cli import build_parser
    from studio.config import choices_of, config_field, fixed_options
    from studio.methods import method_names
    from studio.ui.widgets import fields_choices

    options = fixed_options()
    assert {"method", "data.template", "training.precision", "training.device",
            "training.gradient_checkpointing",
            "training.report_to", "training.lr_scheduler", "lora.target_modules", "distributed.strategy",
            "dpo.loss_type"} <= set(options)
    train_help = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for key, field in options.items():
        values = choices_of(field)
        assert [c[1] if isinstance(c, tuple) else c for c in fields_choices(key)] == values
        assert f"{key}: " in train_help and values[0] in train_help
        section = key.split(".")[0]
        raw = valid(method=section) if section in method_names() else valid()
        if section == "rl":  # RL needs something to reward before its options count
            raw["rl"] = {"reward_functions": [{"type": "regex", "pattern": "^No"}]}
        if section == "online_dpo":  # so does online DPO: a reward run to rank its samples
            raw["online_dpo"] = {"reward_model": "pineapple-reward"}
        node = raw
        for part in key.split(".")[:-1]:
            node = node.setdefault(part, {})
        node[key.split(".")[-1]] = "no-such-value"
        cfg = RunConfig.from_dict(raw)
        if field.metadata.get("open"):  # suggestions: other values pass
            cfg.validate()
            continue
        with pytest.raises(ConfigError, match=f"'{key}' must be one of {values[0]}|Method must be one of"):
            cfg.validate()
        # The first declared value is valid.
        node[key.split(".")[-1]] = values[0]
        RunConfig.from_dict(raw).validate()
    assert config_field("dpo.loss_type")[0].metadata["choices"][0][1] == "sigmoid"  # (label, value) pairs
