"""Export tab: save a run's adapter (optionally merged into the base), write a GGUF with an Ollama
Modelfile and check it answers like the tuned model, or push the adapter to the Hub.

The Hub token is the password box, $HF_TOKEN or the saved `hf auth login`; it is never shown, logged
or written anywhere."""

from __future__ import annotations

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
        from studio.evaluation.classify_eval import is_classifier_run
        from studio.publish.classify_export import export_classifier
        from studio.publish.hub import export_adapter

        target = Path((destination or "").strip() or default_destination(run_id)).expanduser()
        run_dir = _run(run_id).dir
        if is_classifier_run(run_dir):  # one folder transformers' pipeline loads, checked against the run
            export_classifier(run_dir, target)
            return ok(f"Saved the classifier to {target}.")
        path = export_adapter(run_dir, target, merge=bool(merge))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc)
    what = "adapter and the merged full model" if merge else "adapter"
    return ok(f"Saved the {what} to {path}.")


# Gradio hands a live progress bar to a handler whose parameter defaults to a gr.Progress instance.
_PROGRESS = gr.Progress()


def export_gguf_run(run_id: str | None, destination: str, quant: str | list[str], progress=_PROGRESS):
    """Merge, write the GGUF and the Modelfile, read the GGUF back; the round trip's verdict is shown."""
    if not run_id:
        return warn("Pick a finished or stopped run to export.")
    try:
        from studio.publish.gguf import describe_check, export_gguf

        # Beside the adapter folder, not inside it: saving the adapter again replaces its folder.
        target = ((destination or "").strip() or default_destination(run_id)).rstrip("/") + "-gguf"
        result = export_gguf(_run(run_id).dir, Path(target).expanduser(), quant or "f16",
                             progress=lambda frac, msg: progress(frac, desc=msg))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc)
    written = " ".join(f"Wrote {f['gguf']}: {describe_check(f['check'])}" for f in result["files"])
    return ok(f"{written} An Ollama Modelfile beside them uses the first "
              "(`ollama create NAME -f Modelfile`).")


def push_run(run_id: str | None, repo_id: str, private: bool, message: str, token: str):
    from studio.publish.login import find_token

    token, _ = find_token(token)
    if not run_id:
        return warn("Pick a finished or stopped run to push.")
    if not (repo_id or "").strip() or "/" not in repo_id:
        return warn("Give the Hub repository as owner/name, e.g. your-name/pineapple-adapter.")
    if not token:
        return warn("No Hugging Face token: paste a write token, set HF_TOKEN, or run `hf auth login` once.")
    try:
        from studio.evaluation.classify_eval import is_classifier_run
        from studio.publish.classify_push import push_classifier
        from studio.publish.hub import push_adapter

        # A classifier: the model
        push = push_classifier if is_classifier_run(_run(run_id).dir) else push_adapter
        url = push(_run(run_id).dir, repo_id.strip(), token, bool(private),
                           (message or "").strip() or "Upload adapter trained with the studio")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc, secret=token)
    return ok(f"Pushed to {url}.")


def fill_destination(run_id: str | None):
    return default_destination(run_id) if run_id else ""


def build() -> dict:
    gr.Markdown("Keep what you trained. The **adapter** is small (a few MB) and needs the base model to run; "
                "**merging** writes a full standalone model (as large as the base).")
    run = gr.Dropdown(run_choices(to_share=True), label="Run", elem_id="export-run",
                      info="Runs with a trained adapter or classifier. None yet? Train one in Make → 3 · "
                           "Train, "
                           "or press Pineapple pizza demo.")
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Save to a folder")
            destination = gr.Textbox(label="Folder", placeholder=default_destination(None),
                                     elem_id="export-to")
            merge = gr.Checkbox(False, label="Also merge into the base model",
                                info="Writes the full model; needs memory and disk like the base.")
            save = gr.Button("Save", variant="primary", elem_id="export-save")
            gr.Markdown("### GGUF for llama.cpp, Ollama, LM Studio")
            quant = gr.Dropdown([("f16 (exact)", "f16"), ("q8_0 (half the size)", "q8_0"), ("bf16", "bf16"),
                                 ("f32", "f32"), ("q6_k (needs llama-cpp-python)", "q6_k"),
                                 ("q5_k_m (needs llama-cpp-python)", "q5_k_m"),
                                 ("q4_k_m (needs llama-cpp-python)", "q4_k_m")],
                                value=["f16"], multiselect=True, label="Number formats", elem_id="gguf-quant",
                                info="Merges the adapter, writes one .gguf per format and a Modelfile into "
                                     "FOLDER-gguf, then checks each file answers like the tuned model.")
            gguf = gr.Button("Write GGUF", elem_id="gguf-button")
        with gr.Column():
            gr.Markdown("### Push to the Hugging Face Hub")
            repo = gr.Textbox(label="Repository", placeholder="your-name/pineapple-adapter",
                              elem_id="push-repo")
            private = gr.Checkbox(True, label="Private repository")
            message = gr.Textbox("Upload adapter trained with the studio", label="Commit message")
            from studio.publish.login import login_sentence

            gr.Markdown(login_sentence(), elem_id="push-login")
            token = gr.Textbox(label="Token", type="password", value="", elem_id="push-token",
                               placeholder="hf_... (or leave empty to use HF_TOKEN or your saved login)",
                               info="Needs write access. Used for this push only; never stored or shown.")
            push = gr.Button("Push", elem_id="push-button")
    status = gr.Markdown(elem_id="export-status")
    run.change(fill_destination, run, destination)
    save.click(export_run, [run, destination, merge], status)
    gguf.click(export_gguf_run, [run, destination, quant], status)
    push.click(push_run, [run, repo, private, message, token], status)
    return {"run": run}
