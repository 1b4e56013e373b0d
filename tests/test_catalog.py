"""The model catalog and the memory verdicts."""

import json

from studio.cli import main
from studio.methods import get_method
from studio.models.catalog import CATEGORIES, Machine, catalog_models, estimate


def test_every_category_has_models_in_its_size_range():
    bounds = {"small": (0, 1), "medium": (1, 10), "large": (10, 1000)}
    for cat in CATEGORIES:
        models = catalog_models(cat)
        assert models, cat
        low, high = bounds[cat]
        for m in models:
            assert low <= m["params_b"] < high, m
            assert m["kind"] in ("instruct", "base")
    assert catalog_models("small")[0]["id"] == "embedded"


def test_verdicts_scale_with_size_and_method():
    laptop = Machine("cpu", "CPU", 24.0)
    assert estimate(0.135, "lora", laptop).verdict == "fits"
    assert estimate(70.6, "full", laptop).verdict == "won't fit"
    # bitsandbytes has a CPU backend: QLoRA gets an estimate on a CPU too, below LoRA's.
    assert estimate(7.2, "qlora", laptop).verdict in ("fits", "tight")
    assert estimate(7.2, "qlora", laptop).need_gib < estimate(7.2, "lora", laptop).need_gib
    gpu = Machine("cuda", "H100", 80.0)
    assert estimate(7.2, "qlora", gpu).verdict == "fits"
    assert estimate(7.2, "full", gpu).verdict in ("tight", "won't fit")
    assert estimate(7.2, "lora", gpu).need_gib < estimate(7.2, "full", gpu).need_gib
    assert estimate(7.2, "qlora", gpu).need_gib < estimate(7.2, "lora", gpu).need_gib
    # Full DPO holds a reference copy; LoRA DPO does not (the base with the adapter off), but both put
    # two sequences per pair through the model.
    full_dpo = estimate(1.5, "full", gpu, get_method("dpo")).need_gib - estimate(1.5, "full", gpu).need_gib
    lora_dpo = estimate(1.5, "lora", gpu, get_method("dpo")).need_gib - estimate(1.5, "lora", gpu).need_gib
    assert full_dpo > lora_dpo + 2 > 2


def test_models_json_cli(capsys):
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machine"]["device"] == "cpu"
    ids = [m["id"] for m in data["models"]]
    assert "embedded" in ids and "meta-llama/Llama-3.1-70B-Instruct" in ids
    first = data["models"][0]["estimates"]
    assert set(first) == {"full", "lora", "qlora"} and first["lora"]["verdict"] == "fits"


def test_catalog_schema_and_current_families():
    """Every entry says what people choose by: size, base or instruct, licence, gating, chat template."""
    from studio.models.catalog import load_catalog

    catalog = load_catalog()
    templates = catalog["templates"]
    rows = catalog_models()
    ids = [m["id"] for m in rows]
    assert len(ids) == len(set(ids))
    for m in rows:
        assert set(m) >= {"id", "family", "params_b", "kind", "licence", "gated", "template"}, m
        assert isinstance(m["params_b"], float) and m["params_b"] > 0, m
        assert isinstance(m["gated"], bool) and m["licence"].strip() and m["template"] in templates, m
        assert set(m) <= {"category", "id", "family", "params_b", "kind", "licence", "gated", "template",
                          "note", "shape"}, m
    families = {m["family"] for m in rows}
    assert {"Qwen3", "Gemma 3", "SmolLM3", "Llama 3.2", "Llama 3.1", "Phi-4-mini", "Mistral"} <= families
    for family in families - {"Phi-4-mini"}:  # Microsoft published no Phi-4-mini base model
        kinds = {m["kind"] for m in rows if m["family"] == family}
        assert kinds == {"base", "instruct"}, family
    # Llama and Gemma ask for the licence to be accepted on the Hub; the catalog must say so.
    assert all(m["gated"] for m in rows if m["family"].startswith(("Llama", "Gemma")))
    assert catalog["embedded"]["hub_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_a_verdict_names_the_settings_that_fit_and_wont_fit_means_none_does():
    """Qwen3-1.7B, LoRA DPO on an 8 GiB GPU: the defaults (batch 4 x 512) need more, smaller settings fit."""
    from studio.models.catalog import LADDER, ROOM
    from studio.models.memory import estimate_training, shape_from_params

    gpu = Machine("cuda", "RTX 4060", 8.0)
    row = estimate(1.7, "lora", gpu, get_method("dpo"))
    assert row.need_gib > 8 and row.verdict == "tight", row
    assert row.detail.startswith("fits with batch") and row.settings["batch"] < 4, row.detail
    fitted = estimate_training(shape_from_params(1.7), mode="lora", precision="bf16", device="cuda",
                               batch=row.settings["batch"], max_length=row.settings["max_length"],
                               checkpointing=row.settings["gradient_checkpointing"], sequences_per_example=2)
    assert fitted.total_gib <= ROOM * 8
    # "won't fit": not even the smallest rung of the ladder fits.
    none = estimate(70.6, "full", gpu)
    b, n, ck = LADDER[-1]
    assert none.verdict == "won't fit" and none.settings is None and f"batch {b} x {n}" in none.detail and ck


def test_models_lists_the_encoders_with_each_strategys_verdict(capsys):
    assert main(["models", "--category", "encoders"]) == 0
    out = capsys.readouterr().out
    assert "Encoders (classify)" in out and "Qwen/Qwen3-0.6B" not in out
    line = next(x for x in out.splitlines() if x.strip().startswith("embedded-encoder"))
    assert "full: fits" in line and "head: fits" in line and "lora: fits" in line
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"embedded-encoder", "FacebookAI/xlm-roberta-base"} <= {m["id"] for m in data["encoders"]}
    assert all(set(m["plans"]) == {"full", "head", "lora"} for m in data["encoders"])
