"""Export tab: save a run's adapter (optionally merged into the base), or push it to the Hub.

The Hub token is a password box or $HF_TOKEN; it is never shown, logged or written anywhere."""

from __future__ import annotations

import os
import re
from pathlib import Path

import gradio as gr

from studio.paths import studio_home
from studio.ui.messages import fail, ok, warn
from studio.ui.run_picker import run_choices


def _run(run_id: str):
    from studio.runs import get_run

    return get_run(run_id)


def default_destination(run_id: str | None) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id or "adapter")
    return str(studio_home() / "exports" / name)


def export_run(run_id: str | None, destination: str, merge: bool):
    if not run_id:
        return warn("Pick a finished or stopped run to export.")
    try:
        from studio.hub import export_adapter

        target = (destination or "").strip() or default_destination(run_id)
        path = export_adapter(_run(run_id).dir, Path(target).expanduser(), merge=bool(merge))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc)
    what = "adapter and the merged full model" if merge else "adapter"
    return ok(f"Saved the {what} to {path}.")


def push_run(run_id: str | None, repo_id: str, private: bool, message: str, token: str):
    token = (token or "").strip() or os.environ.get("HF_TOKEN", "").strip()
    if not run_id:
        return warn("Pick a finished or stopped run to push.")
    if not (repo_id or "").strip() or "/" not in repo_id:
        return warn("Give the Hub repository as owner/name, e.g. your-name/pineapple-adapter.")
    if not token:
        return warn("No Hugging Face token: paste a write token in the box, or set HF_TOKEN before starting the app.")
    try:
        from studio.hub import push_adapter

        url = push_adapter(_run(run_id).dir, repo_id.strip(), token, bool(private),
                           (message or "").strip() or "Upload adapter trained with the studio")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc, secret=token)
    return ok(f"Pushed to {url}.")


def fill_destination(run_id: str | None):
    return default_destination(run_id) if run_id else ""


def build() -> dict:
    gr.Markdown("Keep what you trained. The **adapter** is small (a few MB) and needs the base model to run; "
                "**merging** writes a full standalone model (as large as the base).")
    run = gr.Dropdown(run_choices(chat_ready=True), label="Run", elem_id="export-run")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Save to a folder")
            destination = gr.Textbox(label="Folder", placeholder=default_destination(None), elem_id="export-to")
            merge = gr.Checkbox(False, label="Also merge into the base model",
                                info="Writes the full model; needs memory and disk like the base.")
            save = gr.Button("Save", variant="primary", elem_id="export-save")
        with gr.Column():
            gr.Markdown("### Push to the Hugging Face Hub")
            repo = gr.Textbox(label="Repository", placeholder="your-name/pineapple-adapter", elem_id="push-repo")
            private = gr.Checkbox(True, label="Private repository")
            message = gr.Textbox("Upload adapter trained with the studio", label="Commit message")
            token = gr.Textbox(label="Token", type="password", value="", elem_id="push-token",
                               placeholder="hf_... (or leave empty to use HF_TOKEN)",
                               info="Needs write access. Used for this push only; never stored or shown.")
            push = gr.Button("Push", elem_id="push-button")
    status = gr.Markdown(elem_id="export-status")
    run.change(fill_destination, run, destination)
    save.click(export_run, [run, destination, merge], status)
    push.click(push_run, [run, repo, private, message, token], status)
    return {"run": run}
