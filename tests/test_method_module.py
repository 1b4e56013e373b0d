"""A method really is one file and a data kind one declaration: a module written here, dropped into a copy
of studio/methods/, training on a kind declared once in the copy's studio/data/layouts/kinds.py, with no
other file edited, is listed by `studio methods`, names itself and its kind in the data's sentences
(CLI and Data tab), trains with `studio train` (plus its one recipe), and every face reads it: the Train
tab's choices and options, its charts, the samples panel, held-out pairs (its own margin option),
the model card and the consent to run code."""

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
    data_kind="ranking",
    build=build,
    options=HingeOptions,
    advice="**Hinge pairs** learn from chosen/rejected pairs and stop pushing once a pair is far enough "
           "apart.",
    card_line="Hinge-loss preference optimisation on chosen/rejected pairs, with TRL's DPOTrainer.",
    charts=(Chart("Hinge rewards", {"rewards/margins": "reward margin"}),),
    recipes=("hinge-pairs.yaml",),
    reference_model=True,
    margin_option="beta",
    sequences_per_example=2,
    # Its IPO choice stands in for an option that runs the user's code: consent reads it from here.
    user_code=lambda options: ["the hinge pairs' own loss"] if options.loss_type == "ipo" else [],
)
'''

# The new kind, declared in the one place kinds are declared: answers ranked best to worst; pairs serve too.
KIND = '''
declare(DataKind("ranking", "ranked answers (best to worst)", ("ranking", "preference"),
                 "{m} needs answers ranked best to worst (or preference pairs)", "a ranking dataset"))
'''

# What the faces make of the trained run, asked in the copy (its registry holds the new method).
FACES = '''
import json, sys
from studio.evaluation.pairs import run_beta
from studio.publish.card import build_model_card
from studio.runs.files import read_metrics
from studio.ui import charts
from studio.ui.make import data_tab, train_tab
from studio.ui.samples_panel import poll_samples
from studio.config import RunConfig
from studio.safety.consent import code_asked

run, sft_file = sys.argv[1:3]
frames = charts.metric_frames(read_metrics(run), "hingepairs")
summary = data_tab.inspect_data({"data.source": sft_file, "method": "hingepairs"})["summary"]
print(json.dumps({
    "advice": train_tab.method_advice("hingepairs"),
    "options_shown": train_tab.option_groups("hingepairs")["options-hingepairs"]["visible"],
    "charts": [(chart.title, len(frame)) for chart, frame in frames["charts"]],
    "data_tab": summary,
    "samples_shown": poll_samples(run.rsplit("/", 1)[-1])[0]["visible"],
    "beta": run_beta(run),  # what `studio eval` scales the held-out margin by
    "card": build_model_card(run),
    "code_asked": code_asked(RunConfig.from_dict({"method": "hingepairs", "model": {"name": "m"},
                                                  "hingepairs": {"loss_type": "ipo"}})),
}))
'''


def _copy_env(copy: Path) -> dict:
    # No spare trainer for the copy: it would be the copy's own (keyed by its folder), which the suite's
    # stop_all() at the end does not know, and would idle for ten minutes after the copy is gone.
    return {**os.environ, "PYTHONPATH": str(copy), "STUDIO_SPARE_TRAINER": "0"}


def _studio(copy: Path, *args: str) -> subprocess.CompletedProcess:
    env = _copy_env(copy)
    return subprocess.run([sys.executable, "-m", "studio", *args], cwd=copy, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_a_method_module_dropped_into_a_copy_is_listed_checked_and_trained(tmp_path, tiny_model_dir,
                                                                           pref_file,
                                                                             sft_file):
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "studio", copy / "studio", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "studio" / "methods" / "hingepairs.py").write_text(MODULE, encoding="utf-8")
    with (copy / "studio" / "data" / "layouts" / "kinds.py").open("a", encoding="utf-8") as kinds:
        kinds.write(KIND)
    recipe = copy / "presets" / "recipes" / "hinge-pairs.yaml"
    recipe.parent.mkdir(parents=True)
    shutil.copy(ROOT / "presets" / "models.yaml", copy / "presets")  # the model card reads the catalog
    (copy / "assets").symlink_to(ROOT / "assets")  # and its template
    recipe.write_text(yaml.safe_dump({
        "method": "hingepairs", "model": {"name": str(tiny_model_dir)},
        "data": {"source": str(pref_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "batch_size": 2, "max_length": 64,
                     "save_steps": 100},
        "hingepairs": {"beta": 0.3},
        "output": {"name": "hinge"},
    }), encoding="utf-8")

    listed = _studio(copy, "methods", "--json")
    assert listed.returncode == 0, listed.stderr
    methods = {m["name"]: m for m in json.loads(listed.stdout)}
    assert methods["hingepairs"]["title"] == "Hinge pairs (preferences, margin)"
    assert list(methods).index("hingepairs") == list(methods).index("dpo") + 1  # its own order field

    # The wrong kind of data is refused in a sentence that names this method, not DPO.
    refused = _studio(copy, "data", "inspect", str(sft_file), "--model", str(tiny_model_dir), "--method",
                      "hingepairs")
    assert refused.returncode == 2
    assert "but Hinge pairs needs answers ranked best to worst" in refused.stderr
    assert "DPO" not in refused.stderr

    trained = _studio(copy, "train", str(recipe))
    assert trained.returncode == 0, trained.stderr[-3000:]
    run_dir = Path(trained.stdout.strip().splitlines()[-1])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["method"] == "hingepairs" and summary["global_step"] == 2
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["hingepairs"] == {"beta": 0.3, "loss_type":
    "hinge"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/margins" in m for m in metrics)
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()

    faces = subprocess.run([sys.executable, "-c", FACES, str(run_dir), str(sft_file)],
                           cwd=copy, env=_copy_env(copy), capture_output=True,
                           text=True,
                           timeout=300, check=False)
    assert faces.returncode == 0, faces.stderr[-3000:]
    seen = json.loads(faces.stdout.strip().splitlines()[-1])
    assert seen["advice"].startswith("**Hinge pairs**") and seen["options_shown"] is True
    assert seen["charts"] == [["Hinge rewards", 2]]  # its own chart, one point per step
    assert "Hinge pairs needs answers ranked best to worst" in seen["data_tab"]
    assert seen["samples_shown"] is False  # it declares no samples: the panel stays hidden
    assert seen["beta"] == 0.3  # held-out pairs scale the margin by the option it names (margin_option)
    assert "Hinge-loss preference optimisation on chosen/rejected pairs" in seen["card"]
    assert seen["code_asked"] == ["the hinge pairs' own loss"]  # consent asks what its module declares
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
