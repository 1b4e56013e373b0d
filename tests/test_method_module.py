"""A method really is one file: a module written here, dropped into a copy of studio/methods/ with no
other file of the package edited, is listed by `studio methods`, names itself in the data's sentences
and trains with `studio train` (plus its one recipe)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# A DPO variant with a title of its own: TRL's hinge loss (SLiC) and a margin of its own option.
MODULE = '''"""Hinge pairs: DPO's hinge loss (SLiC) on chosen/rejected pairs, with TRL's DPOTrainer."""

from dataclasses import dataclass

from studio.methods.base import Chart, Method, TrainContext, option


@dataclass
class HingeOptions:
    beta: float = option(0.2, "Inverse margin of the hinge: pairs with beta*margin above 1 stop counting.")
    loss_type: str = option("hinge", "The pairwise loss.", choices=["hinge", "ipo"])


def build(ctx: TrainContext):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(beta=ctx.options.beta, loss_type=[ctx.options.loss_type], **ctx.common_args)
    return DPOTrainer(model=ctx.model, ref_model=None, args=args, train_dataset=ctx.dataset,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="hingepairs",
    order=45,
    title="Hinge pairs (preferences, margin)",
    full_name="Hinge-loss preference optimisation (SLiC)",
    description="Hinge pairs: push chosen above rejected until the margin is reached.",
    data_kind="preference",
    build=build,
    options=HingeOptions,
    advice="**Hinge pairs** learn from chosen/rejected pairs and stop pushing once a pair is far enough apart.",
    card_line="Hinge-loss preference optimisation on chosen/rejected pairs, with TRL's DPOTrainer.",
    charts=(Chart("Hinge rewards", {"rewards/margins": "reward margin"}),),
    recipes=("hinge-pairs.yaml",),
    reference_model=True,
    sequences_per_example=2,
)
'''


def _studio(copy: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_method_module_dropped_into_a_copy_is_listed_checked_and_trained(tmp_path, tiny_model_dir, pref_file,
                                                                             sft_file):
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "studio", copy / "studio", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "studio" / "methods" / "hingepairs.py").write_text(MODULE, encoding="utf-8")
    recipe = copy / "presets" / "recipes" / "hinge-pairs.yaml"
    recipe.parent.mkdir(parents=True)
    recipe.write_text(yaml.safe_dump({
        "method": "hingepairs", "model": {"name": str(tiny_model_dir)},
        "data": {"source": str(pref_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "batch_size": 2, "max_length": 64, "save_steps": 100},
        "hingepairs": {"beta": 0.3},
        "output": {"name": "hinge"},
    }), encoding="utf-8")

    listed = _studio(copy, "methods", "--json")
    assert listed.returncode == 0, listed.stderr
    methods = {m["name"]: m for m in json.loads(listed.stdout)}
    assert methods["hingepairs"]["title"] == "Hinge pairs (preferences, margin)"
    assert list(methods).index("hingepairs") == list(methods).index("dpo") + 1  # its own order field

    # The wrong kind of data is refused in a sentence that names this method, not DPO.
    refused = _studio(copy, "data", "inspect", str(sft_file), "--model", str(tiny_model_dir), "--method", "hingepairs")
    assert refused.returncode == 2
    assert "Hinge pairs needs preference pairs" in refused.stderr and "DPO needs" not in refused.stderr

    trained = _studio(copy, "train", str(recipe))
    assert trained.returncode == 0, trained.stderr[-3000:]
    run_dir = Path(trained.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["method"] == "hingepairs" and summary["global_step"] == 2
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["hingepairs"] == {"beta": 0.3, "loss_type": "hinge"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/margins" in m for m in metrics)
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    # The worker ran the copy's code (the module exists nowhere else).
    assert not (ROOT / "studio" / "methods" / "hingepairs.py").exists()


def test_a_data_kind_is_declared_in_one_place_and_every_check_reads_it(monkeypatch):
    """One DataKind declaration is all the data's checks and sentences need of a new kind."""
    from studio.data.layouts import kinds

    for table in ("DATA_KINDS", "KIND_WORDS", "ACCEPTS", "NEEDS", "DATA_FOR"):
        monkeypatch.setattr(kinds, table, dict(getattr(kinds, table)))  # the declaration ends with the test
    kinds.declare(kinds.DataKind("ranking", "ranked answers (best to worst)", ("ranking", "preference"),
                                 "{m} needs answers ranked best to worst", "a ranking dataset"))
    asked = kinds.Asked("ranking", "ListRank", (("ranking", "ListRank"), ("sft", "SFT")))
    assert kinds.kinds_for(asked) == ("ranking", "preference")
    assert kinds.kind_problem(asked, "preference") is None
    assert kinds.kind_problem(asked, "sft", "messages") == (
        "This is SFT data (demonstrations) in the messages layout, but ListRank needs answers ranked best to "
        "worst; choose SFT for it or pick a ranking dataset.")
    assert kinds.kind_problem(kinds.Asked("sft", "SFT", (("ranking", "ListRank"),)), "ranking") == (
        "This is ranked answers (best to worst), but SFT learns from demonstrations; choose ListRank for it "
        "or pick a dataset of conversations.")
