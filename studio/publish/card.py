"""The model card for a run: base, data and format, method and every hyperparameter, final metrics,
the loss curve, the evaluation table, a benchmark (bench.json), provenance (base revision and licence,
data hash, versions, recipe, command), the parents of a merged run, and a PEFT usage snippet.

Rendered with huggingface_hub's ``ModelCard.from_template`` from ``assets/model_card.md`` (Jinja2).
Only names, never local absolute paths, go into the card; no token ever reaches this module.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.methods import get_method
from studio.paths import ASSETS_DIR
from studio.runs.files import ADAPTER_DIR, read_metrics, read_status, read_summary
from studio.runs.folder import config_path, read_base_marker, served_adapter

TEMPLATE = ASSETS_DIR / "model_card.md"
CURVE_FILE = "loss_curve.png"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FINAL_KEYS = ("loss", "rewards/margins", "rewards/accuracies", "rewards/chosen", "rewards/rejected",
              "logps/chosen", "logps/rejected", "mean_token_accuracy", "grad_norm", "learning_rate")


class CardError(StudioError):
    """A model card that cannot be built, phrased as one sentence the user can act on."""


def is_hub_id(name: str) -> bool:
    """A Hub repo id (``org/name``) rather than a local path or file."""
    return bool(name) and bool(HUB_ID.match(name)) and not Path(name).expanduser().exists()


def base_model_of(run_dir: Path) -> tuple[str, bool, str]:
    """(display name, is on the Hub, note) for the run's base model."""
    adapter = served_adapter(run_dir, final_only=True)
    marker = read_base_marker(adapter) if adapter else {}
    summary = read_summary(run_dir)
    configured = marker.get("model", "")
    display = marker.get("base_model") or summary.get("base_model") or Path(configured).name or "unknown"
    if configured == "embedded":
        return display, True, (
            f"Trained on the studio's embedded copy of {display}: its Q4_1 GGUF weights de-quantized to "
            "float32, so results on the original full-precision weights can differ slightly."
        )
    return display, is_hub_id(configured) or is_hub_id(display), ""


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "{}"
    return str(value)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "an unknown time"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def hyperparameters(cfg) -> list[tuple[str, str]]:
    """Every training and LoRA option, plus the data options that shape what was trained on."""
    out = [("method", cfg.method)]
    groups = ["lora", "training"] + ([cfg.method] if cfg.method_options is not None else [])
    for group in groups:
        part = getattr(cfg, group)
        out += [(f"{group}.{f.name}", _fmt(getattr(part, f.name))) for f in fields(part)]
    for name in ("split", "subset", "max_rows", "shuffle_seed", "template", "column_map"):
        out.append((f"data.{name}", _fmt(getattr(cfg.data, name))))
    return out


def final_metrics(run_dir: Path, summary: dict, method=None) -> list[tuple[str, str]]:
    """The last logged value of the loss, the common metrics and the ones the method charts."""
    last: dict = {}
    for row in read_metrics(run_dir):
        if "loss" in row:
            last = row
    charted = [key for chart in method.charts for key in chart.series] if method else []
    keys = list(dict.fromkeys([*FINAL_KEYS, *charted]))
    out = [(key, _fmt(last[key])) for key in keys if key in last]
    if isinstance(summary.get("train_loss"), (int, float)):
        out.append(("train_loss (mean over the run)", _fmt(summary["train_loss"])))
    return out


def plot_loss_curve(run_dir: str | Path, out_png: str | Path) -> Path | None:
    """Draw the training loss (and the DPO reward margin when logged) to a PNG; None without metrics."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [r for r in read_metrics(Path(run_dir)) if "loss" in r and "step" in r]
    if not rows:
        return None
    # Figure + Agg canvas directly: no pyplot, so no global backend switch in a process running a UI.
    fig = Figure(figsize=(6, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker="o", markersize=3, label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    margins = [r for r in rows if "rewards/margins" in r]
    if margins:
        ax2 = ax.twinx()
        ax2.plot([r["step"] for r in margins], [r["rewards/margins"] for r in margins], color="tab:orange",
                 linestyle="--", label="reward margin")
        ax2.set_ylabel("reward margin")
        fig.legend(loc="upper center", ncol=2, fontsize=8)
    fig.tight_layout()
    out = Path(out_png)
    fig.savefig(out, format="png")
    return out


def _dataset(cfg, summary: dict) -> tuple[str, list[str]]:
    source = cfg.data.source
    if is_hub_id(source):
        return f"[{source}](https://huggingface.co/datasets/{source})", [source]
    return f"`{Path(source).name}` (local file)", []


def _provenance(run_dir: Path, cfg, summary: dict, base: str) -> dict:
    """Base and revision, data and its hash, versions, recipe and command (studio.publish.provenance)."""
    from studio.publish import provenance

    configured = read_base_marker(run_dir / ADAPTER_DIR).get("model", cfg.model.name)
    source = cfg.data.source
    digest = summary.get("data_sha256") or provenance.data_hash(source)
    return {"base": base, "revision": provenance.base_revision(configured, summary),
            "licence": provenance.licence(configured, base),
            "data": source if is_hub_id(source) else Path(source).name,
            "data_hash": digest, "data_hash_now": not summary.get("data_sha256"),
            "recipe": provenance.recipe(run_dir), "command": provenance.command(run_dir)}


def _card_data(cfg, method, hub_base: str | None, origin: dict, merge: bool, hub_datasets: list[str]):
    """The card's metadata block: base, licence, library, pipeline, tags and Hub datasets."""
    from huggingface_hub import ModelCardData

    licence = origin["licence"]
    return ModelCardData(
        base_model=hub_base,
        license=licence[0] if licence else None,
        license_name=licence[1] if licence and licence[0] == "other" else None,
        library_name="peft",
        # A reward model scores text (a one-number classification head); every other method generates.
        pipeline_tag="text-classification" if method.produces == "reward" else "text-generation",
        tags=["peft", "lora", "trl", cfg.method, "fine-tuning-studio", *(["merge"] if merge else [])],
        datasets=hub_datasets or None,
    )


def _data_fields(summary: dict, cfg) -> dict:
    """What the card says of the data the run trained on, as its summary recorded it."""
    return {"data_format": summary.get("data_format", "unknown"), "data_rows": summary.get("data_rows", "?"),
            "data_valid_rows": summary.get("data_valid_rows", "?"),
            "template": summary.get("template", cfg.data.template)}


def build_model_card(run_dir: str | Path, repo_id: str | None = None, eval_result: dict | None = None,
                     *, curve: str | None = CURVE_FILE) -> str:
    """The README.md text for a run's adapter; ``eval_result`` defaults to the run's saved eval.json.

    ``curve`` names the loss-curve image beside the README (None leaves it out).
    """
    from huggingface_hub import ModelCard

    from studio.config import RunConfig
    from studio.evaluation.judges.job import card_rows as judge_card_rows
    from studio.evaluation.pairs import eval_table, load_saved_eval, run_dir_of

    run_dir = run_dir_of(run_dir)
    config = config_path(run_dir)
    if not config.is_file():
        raise CardError(f"{run_dir} has no config.yaml, so it is not a studio run folder.")
    cfg = RunConfig.from_yaml(config)
    method = get_method(cfg.method)
    summary = read_summary(run_dir)
    base, base_on_hub, base_note = base_model_of(run_dir)
    dataset, hub_datasets = _dataset(cfg, summary)
    if eval_result is None:
        eval_result = load_saved_eval(run_dir)
    from studio.publish import provenance

    origin = _provenance(run_dir, cfg, summary, base)
    merge = provenance.merge_record(run_dir)
    card_data = _card_data(cfg, method, base if base_on_hub else None, origin, bool(merge), hub_datasets)
    name = read_status(run_dir).get("name") if merge else None  # not the first parent's
    title = repo_id.split("/")[-1] if repo_id else (name or cfg.output.name or f"{cfg.method}-adapter")
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        title=title,
        repo_id=repo_id or "path/to/this-adapter",
        base_model=base,
        base_model_url=f"https://huggingface.co/{base}" if base_on_hub else "",
        base_note=base_note,
        method=cfg.method,
        method_long=method.full_name,
        method_line=method.card_line,
        beta=_fmt(getattr(cfg.method_options, "beta", None)) if hasattr(cfg.method_options, "beta") else "",
        dataset=dataset,
        **_data_fields(summary, cfg),
        hyperparameters=hyperparameters(cfg),
        steps=summary.get("global_step", "?"),
        duration=_duration(summary.get("seconds")),
        hardware=summary.get("device", "unknown hardware"),
        final_metrics=final_metrics(run_dir, summary, method),
        curve=curve,
        eval_table=eval_table(eval_result) if eval_result else None,
        eval_pairs_file=(eval_result or {}).get("pairs_file"),
        versions=provenance.versions(),
        origin=origin,
        bench_rows=provenance.bench_rows(run_dir),
        bench_prompts=provenance.bench_prompts(run_dir),
        judge_rows=judge_card_rows(run_dir),
        merge=merge,
    )
    return str(card)
