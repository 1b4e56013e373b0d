"""Before a classify run: the encoders of the catalog with their verdicts, picking one switches the Train tab
to classify, and each strategy's trainable parameters (equal to what the built model really trains), memory
and time for a recipe."""

from __future__ import annotations

import pytest
from tiny_encoder import build_tiny_encoder, sentiment_rows, write_jsonl

from studio.config import RunConfig


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "bert")


def recipe(encoder, tmp_path, **data) -> RunConfig:
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(30, labels=("good", "bad", "good", "meh")))
    return RunConfig.from_dict({
        "method": "classify", "model": {"name": str(encoder)},
        "data": {"source": str(train), "eval_fraction": 0.2, **data}, "lora": {"r": 2, "alpha": 4},
        "training": {"num_epochs": 2, "batch_size": 8, "max_length": 16},
        "classify": {"train": "head"}}).validate()


def test_counts_on_the_meta_device_equal_what_each_strategy_really_trains(encoder):
    from studio.models.classifier_plan import model_counts
    from studio.models.encoders import head_modules, load_classifier, resolve_encoder
    from studio.training.classifier_strategies import trainable, with_lora

    counts, shape = model_counts(str(encoder), 3, r=2)
    real = load_classifier(resolve_encoder(str(encoder)), "text", ["a", "b", "c"])
    assert counts.trainable("full") == trainable(real) and shape.layers == 2 and shape.hidden == 32
    assert counts.trainable("lora") == trainable(with_lora(real, "text", head_modules(real), 2, 4, 0.0))
    assert counts.trainable("head") == 32 * 3 + 3  # BERT's classifier: hidden x labels + bias


def test_the_recipe_estimate_orders_the_strategies_and_reads_the_data(encoder, tmp_path):
    from studio.training.classifier_estimate import estimate_recipe

    result = estimate_recipe(recipe(encoder, tmp_path))
    assert result["facts"] == {"rows": 24, "eval_rows": 6, "labels": 3, "task": "text"}
    assert result["measured_length"] and 3 < result["tokens"] <= 16 and result["epochs"] == 2
    plans = {p["strategy"]: p for p in result["plans"]}
    for key in ("trainable", "seconds"):
        assert plans["head"][key] < plans["lora"][key] < plans["full"][key], key
    assert plans["head"]["need_gib"] <= plans["lora"]["need_gib"] <= plans["full"]["need_gib"]  # a tiny model
    assert all(p["verdict"] == "fits" and p["seconds"] > 0 for p in plans.values())
    limited = estimate_recipe(recipe(encoder, tmp_path, max_rows=10))  # max_rows, then the held-out fifth
    assert limited["facts"]["rows"] == 8 and limited["facts"]["eval_rows"] == 2


def test_the_catalog_lists_encoders_by_size_with_a_verdict_per_strategy():
    from studio.models.catalog import Machine
    from studio.models.classifier_plan import encoder_catalog

    data = encoder_catalog(Machine("cpu", "CPU", 8.0))
    ids = [m["id"] for m in data["models"]]
    assert ids[0] == "embedded-encoder" and {"google-bert/bert-base-uncased", "microsoft/mdeberta-v3-base",
                                              "FacebookAI/xlm-roberta-base",
                                             "answerdotai/ModernBERT-base"} <= set(ids)
    sizes = [m["params_b"] for m in data["models"]]
    assert sizes == sorted(sizes)
    for model in data["models"]:
        plans = model["plans"]
        for key in ("trainable", "need_gib"):
            assert plans["head"][key] < plans["lora"][key] < plans["full"][key], (model["id"], key)
    largest = data["models"][-1]["plans"]
    assert largest["full"]["verdict"] == "won't fit" and largest["head"]["verdict"] != "won't fit"


def test_picking_an_encoder_in_the_model_tab_sets_the_method_to_classify():
    from studio.ui.make import encoder_catalog, model_tab
    from studio.ui.recipes import ALL_KEYS, DEMO_RECIPE, load_recipe_config, values_from_config

    assert "embedded-encoder" in model_tab.catalog_ids("encoders")
    assert "embedded-encoder" in model_tab.catalog_html("encoders")
    form = values_from_config(load_recipe_config(DEMO_RECIPE), ALL_KEYS)
    out = encoder_catalog.pick_sets_classify({**form, "picked": "distilbert/distilbert-base-uncased"})
    assert out["method"] == "classify" and out["model.name"] == "distilbert/distilbert-base-uncased"
    assert out["data.source"] == "embedded-bbc-news" and out["classify.train"] in ("full", "head", "lora")
    assert encoder_catalog.pick_sets_classify({**form, "picked": "Qwen/Qwen3-0.6B"}) == {}


def test_the_train_tab_shows_the_plan_for_classify_only(encoder, tmp_path):
    from studio.ui.make.classify_plan import estimate
    from studio.ui.recipes import ALL_KEYS, values_from_config

    cfg = recipe(encoder, tmp_path)
    values = {"recipe": cfg.to_dict(), **values_from_config(cfg, ALL_KEYS)}
    shown = estimate(values)["plan"]
    assert "`head`" in shown and "`lora`" in shown and "`full`" in shown and "24 training" in shown
    assert estimate({**values, "method": "sft"})["plan"] == ""
    broken = estimate({**values, "data.source": str(tmp_path / "missing.jsonl")})["plan"]
    assert "missing.jsonl" in broken and "Traceback" not in broken
