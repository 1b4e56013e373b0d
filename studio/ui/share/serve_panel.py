"""Serve panel (Export tab): start and stop `studio serve` for the picked run, and show the Python that
calls it with the official openai client. The server is its own process (studio.publish.serve_process),
so the app stays responsive and stopping it frees the model's memory."""

from __future__ import annotations

import gradio as gr

from studio.ui.messages import fail, ok, warn

_PROGRESS = gr.Progress()


def _shown(current: dict) -> tuple[str, str]:
    """(status sentence, snippet) for the server's state."""
    from studio.publish.serve import client_snippet

    if current["state"] == "stopped":
        last = current.get("message") or ""
        return ("No server running." + (f" Last message: {last}" if last else "")), ""
    snippet = client_snippet(current["url"], current["id"], current.get("key", False))
    if current["state"] == "loading":
        loading = f"Loading {current['model']}; the server answers at {current['url']} once it is loaded."
        return loading, snippet
    serving = f"Serving {current['model']} at {current['url']} (OpenAI-compatible; any client works)."
    return ok(serving), snippet


def start_server(run_id: str | None, port: float, host: str, key_file: str, progress=_PROGRESS):
    if not run_id:
        return warn("Pick a finished or stopped run to serve."), ""
    from studio.publish import serve_process

    try:
        serve_process.start(run_id, port=int(port or 8000), host=(host or "127.0.0.1").strip(),
                            api_key_file=(key_file or "").strip() or None)
        progress(0.2, desc="Loading the model in the server...")
        return _shown(serve_process.wait_ready())
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc), ""


def stop_server():
    from studio.publish import serve_process

    try:
        stopped = serve_process.stop()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc), ""
    return (ok("Server stopped.") if stopped else "No server was running."), ""


def refresh():
    from studio.publish import serve_process

    return _shown(serve_process.status())


def build(run: gr.Dropdown) -> None:
    with gr.Accordion("Serve it to your programs (OpenAI-compatible API)", open=True):
        gr.Markdown("Runs `studio serve` for the picked run: `/v1/chat/completions` and `/v1/models`, one "
                    "answer at a time. Only this machine can reach it unless you give another address and a "
                    "key file.")
        with gr.Row():
            port = gr.Number(8000, label="Port", precision=0, minimum=1, maximum=65535, elem_id="serve-port")
            host = gr.Textbox("127.0.0.1", label="Address", elem_id="serve-host",
                              info="127.0.0.1: this machine only. 0.0.0.0: others too (needs a key file).")
            key_file = gr.Textbox(label="API key file", placeholder="optional; required for another address",
                                  elem_id="serve-key-file")
        with gr.Row():
            start = gr.Button("Start server", variant="primary", elem_id="serve-start")
            stop = gr.Button("Stop server", elem_id="serve-stop")
            again = gr.Button("Refresh", elem_id="serve-refresh")
        status = gr.Markdown(elem_id="serve-status")
        snippet = gr.Code(language="python", label="Call it from Python (pip install openai)",
                          interactive=False,
                          elem_id="serve-snippet")
    start.click(start_server, [run, port, host, key_file], [status, snippet])
    stop.click(stop_server, None, [status, snippet])
    again.click(refresh, None, [status, snippet])
