"""Helpers shared by the tabs: error sentences, run pickers, metric frames, the progress bar.

Nothing here holds run state: everything about a run is read back from its folder on disk.
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.paths import PROJECT_ROOT

log = logging.getLogger("studio.ui")

ACTIVE_STATES = {"queued", "running", "stopping"}  # as studio.runs writes them
DONE_STATES = {"completed"}


# ---- errors: one sentence, never a traceback ---------------------------------------------------
def sentence(exc: BaseException, secret: str | None = None) -> str:
    """What to tell the user about ``exc``; the traceback goes to the studio log."""
    if isinstance(exc, StudioError):
        text = str(exc)
    else:
        log.error("unexpected failure in the app", exc_info=exc)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = (f"Something went wrong ({type(exc).__name__}{': ' + detail if detail else ''}); "
                "the details are in the studio log (studio.log in the studio's home folder).")
    if secret:
        text = text.replace(secret, "***")
    return text


def warn(message: str) -> str:
    """Pop a warning toast (inside an event) and return the same sentence for a status Markdown."""
    import gradio as gr

    gr.Warning(message)
    return f"⚠ {message}"


def fail(exc: BaseException, secret: str | None = None) -> str:
    return warn(sentence(exc, secret))


def ok(message: str) -> str:
    return f"✓ {message}"


# ---- paths ---------------------------------------------------------------------------------------
def resolve_local(path: str) -> str:
    """A relative path that exists here or in the project (the shipped assets) becomes absolute, so
    the worker process finds it whatever its working directory; anything else is left as typed."""
    text = (path or "").strip()
    if not text:
        return text
    local = Path(text).expanduser()
    if local.exists():
        return str(local.resolve())
    candidate = PROJECT_ROOT / text
    if not local.is_absolute() and candidate.exists():
        return str(candidate)
    return text


# ---- runs ----------------------------------------------------------------------------------------
def run_label(info: Any) -> str:
    name = getattr(info, "name", None) or info.id
    return f"{name} · {str(info.method).upper()} · {info.state} · {info.id}"


def has_adapter(run_dir: str | Path) -> bool:
    return latest_adapter(run_dir) is not None


def latest_adapter(run_dir: str | Path) -> Path | None:
    """The run's final adapter, else its newest checkpoint (a stopped run still has something to chat with)."""
    run_dir = Path(run_dir)
    if (run_dir / "adapter" / "adapter_config.json").is_file():
        return run_dir
    checkpoints = sorted(
        (p for p in run_dir.glob("checkpoint-*") if (p / "adapter_config.json").is_file()),
        key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1,
    )
    return checkpoints[-1] if checkpoints else None


def list_runs_safe() -> list:
    try:
        from studio.runs import list_runs

        return list(list_runs())
    except Exception as exc:  # noqa: BLE001 - the registry may be missing or a folder half-written
        log.warning("could not list runs: %s", exc)
        return []


def run_choices(chat_ready: bool = False) -> list[tuple[str, str]]:
    runs = list_runs_safe()
    if chat_ready:
        runs = [r for r in runs if r.state not in ACTIVE_STATES and has_adapter(r.dir)]
    return [(run_label(r), r.id) for r in runs]


def latest_run_id(active_only: bool = False) -> str | None:
    runs = list_runs_safe()  # newest first
    runs = [r for r in runs if r.state in ACTIVE_STATES] or ([] if active_only else runs)
    return runs[0].id if runs else None


# ---- metrics as frames for gr.LinePlot -----------------------------------------------------------
LOSS_COLUMNS = ("step", "value", "series")
DPO_REWARD_KEYS = {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy"}
DPO_LOGP_KEYS = {"logps/chosen": "chosen", "logps/rejected": "rejected"}


def _frame(rows: list[tuple]):
    import pandas as pd

    return pd.DataFrame(rows, columns=list(LOSS_COLUMNS)).astype({"step": "int64", "value": "float64"})


def metric_frames(records: list[dict]) -> dict:
    """Loss, DPO reward (margin, accuracy) and DPO log-probability series, one row per logged step."""
    loss, rewards, logps = [], [], []
    for rec in records:
        step = rec.get("step")
        if step is None:
            continue
        if isinstance(rec.get("loss"), (int, float)):
            loss.append((step, rec["loss"], "loss"))
        for key, label in DPO_REWARD_KEYS.items():
            if isinstance(rec.get(key), (int, float)):
                rewards.append((step, rec[key], label))
        for key, label in DPO_LOGP_KEYS.items():
            if isinstance(rec.get(key), (int, float)):
                logps.append((step, rec[key], label))
    return {"loss": _frame(loss), "rewards": _frame(rewards), "logps": _frame(logps)}


def plot_value(frame):
    """What a LinePlot gets: None while there is nothing to draw (an empty frame breaks later redraws)."""
    return None if frame is None or len(frame) == 0 else frame


def read_records(run_dir: str | Path) -> list[dict]:
    try:
        from studio.runs import read_metrics

        return list(read_metrics(run_dir))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        log.warning("could not read metrics of %s: %s", run_dir, exc)
        return []


def fmt_eta(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "estimating..."
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_html(info: Any | None, records: list[dict] | None = None) -> str:
    """A progress bar with step, ETA, state and the worker's last message."""
    if info is None:
        return "<div class='studio-progress idle'>No run yet: press Start (or the demo button).</div>"
    total = info.total or 0
    step = info.step or 0
    pct = 100 if info.state in DONE_STATES else (min(100, round(100 * step / total)) if total else 0)
    loss = next((r["loss"] for r in reversed(records or []) if isinstance(r.get("loss"), (int, float))), None)
    bits = [f"Step <b class='studio-step'>{step}</b> / {total or '?'}", f"state: <b>{html.escape(str(info.state))}</b>"]
    if info.state in ACTIVE_STATES:
        bits.append(f"ETA {fmt_eta(info.eta_s)}")
    if loss is not None:
        bits.append(f"last loss {loss:.4f}")
    bits.append(f"logged steps: <span class='studio-logged'>{len([r for r in records or [] if 'loss' in r])}</span>")
    message = html.escape(str(info.message or ""))
    return (
        f"<div class='studio-progress state-{html.escape(str(info.state))}'>"
        f"<div class='bar'><div class='fill' style='width:{pct}%'></div></div>"
        f"<div class='line'>{' · '.join(bits)}</div>"
        f"<div class='msg'>{message}</div></div>"
    )


# ---- config widgets built from the dataclass metadata ---------------------------------------------
CHOICES = {
    "training.lr_scheduler": ["cosine", "linear", "constant", "constant_with_warmup"],
    "training.precision": ["auto", "bf16", "fp16", "fp32"],
    "training.gradient_checkpointing": ["auto", "on", "off"],
    "training.optimizer": ["adamw_torch", "adamw_torch_fused", "adafactor", "sgd"],
    "data.template": ["auto", "model", "chatml", "llama2", "zephyr"],
    "method": ["sft", "dpo"],
}
LABELS = {"lora.r": "LoRA rank r", "lora.alpha": "LoRA alpha", "lora.dropout": "LoRA dropout",
          "lora.qlora": "QLoRA (4-bit base)", "training.beta": "DPO beta", "data.max_rows": "Row limit"}


def config_field(key: str):
    """The dataclass field behind a dotted key, with its type."""
    import typing

    from studio.config import RunConfig

    cls: Any = RunConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        f = {f.name: f for f in fields(cls)}[part]
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            return f, hint
        cls = hint
    raise KeyError(key)


def widget_for(key: str, value: Any = None, **kwargs: Any):
    """A Gradio input for one config option; its help text comes from the config's metadata."""
    import types
    import typing

    import gradio as gr

    from studio.config import help_text

    _, hint = config_field(key)
    label = kwargs.pop("label", None) or LABELS.get(key) or key.split(".")[-1].replace("_", " ").capitalize()
    info = kwargs.pop("info", None) or help_text(key)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    common = dict(label=label, info=info, value=value, elem_id="cfg-" + key.replace(".", "-"), **kwargs)
    if key in CHOICES:
        return gr.Dropdown(choices=CHOICES[key], allow_custom_value=key == "training.optimizer", **common)
    if base is bool:
        return gr.Checkbox(**common)
    if base is int:
        return gr.Number(precision=0, **common)
    if base is float:
        return gr.Number(**common)
    return gr.Textbox(**common)


# ---- one model in memory for chat and the demo -----------------------------------------------------
_CACHE: dict[str, Any] = {"key": None, "model": None}
_CACHE_LOCK = threading.Lock()


def before_after(run_dir: str | Path, trust_remote_code: bool = False):
    """The BeforeAfter of the selected run; picking another run frees the previous model first."""
    target = latest_adapter(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or finishes.")
    stamp = max((p.stat().st_mtime for p in target.rglob("adapter_model*")), default=0)
    key = f"{target}|{stamp}|{trust_remote_code}"
    with _CACHE_LOCK:
        if _CACHE["key"] != key:
            from studio.inference import BeforeAfter

            _CACHE["key"], _CACHE["model"] = None, None
            import gc

            gc.collect()
            _CACHE["model"] = BeforeAfter(target, trust_remote_code=trust_remote_code)
            _CACHE["key"] = key
        return _CACHE["model"]
