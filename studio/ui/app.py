"""Builds the studio's Gradio app and starts it (`studio app`, `python launch.py`).

Security defaults: bound to 127.0.0.1; a public link (--share) or a non-local host needs a password
($STUDIO_AUTH, --auth-file or --auth);
uploads are capped; no folder is added to Gradio's allowed paths (it serves only its own cache); it
answers only to its own names and origin (studio.ui.origin_guard; more names with --allowed-host).
"""

from __future__ import annotations

import os
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import cli_language, speaking, tr
from studio.paths import ASSETS_DIR

TITLE = "Fine-tuning Studio"
MAX_UPLOAD = "100mb"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
CSS_FILE = ASSETS_DIR / "studio.css"


def build_app():
    import gradio as gr

    from studio.ui import layout, monitor
    from studio.ui.i18n import tr
    from studio.ui.learn import demo_tab
    from studio.ui.make import memory_line
    from studio.ui.recipes import DEMO_RECIPE, load_recipe_config
    from studio.ui.wiring import on

    with gr.Blocks(title=TITLE, analytics_enabled=False) as app:
        recipe = gr.State(load_recipe_config(DEMO_RECIPE).to_dict())
        # Hidden until the page's language is set (layout.APPLY_LANGUAGE_JS): Gradio translates a component
        # when it first draws it, so what draws before that would stay in English.
        with gr.Column(visible=False, elem_id="studio-body") as body:
            with gr.Row(elem_classes=["studio-header"]):
                with gr.Column(scale=4):
                    gr.Markdown(f"# {TITLE}")
                    gr.Markdown(tr("Teach a small language model new behaviour on your own computer: pick a "
                                   "model, load examples, train, then compare its answers before and after."))
                with gr.Column(scale=1, min_width=220):
                    demo_btn = gr.Button(tr("Pineapple pizza demo"), variant="primary", size="lg",
                                         elem_id="demo-button")
                    language = layout.language_switch()
            welcome = layout.welcome_banner()
            with gr.Tabs(selected="make") as tabs:
                parts = layout.build_tabs(recipe)
            memory_line.build()  # what the model cache holds (studio.models.cache)
        train, demo = parts["train"], parts["demo"]
        demo_outputs = {**demo["outputs"], "run": train["mon_run"]}
        on(on(demo_btn.click, demo_tab.select_demo, None,
              {**train["filled"], "tabs": tabs, "learn_tabs": parts["learn_tabs"]}).then,
           demo_tab.run_demo, None, demo_outputs, show_progress="minimal")
        layout.wire_tab_refreshes(parts)
        layout.wire_runs_page(parts, tabs)
        app.load(monitor.attach_on_load, None, train["mon_run"])
        on(app.load, demo_tab.reattach_demo, None, demo_outputs, show_progress="minimal")
        greet, shown = layout.greet_in_language(layout.translatable(app), body, language, welcome)
        on(app.load, greet, None, shown, js=layout.APPLY_LANGUAGE_JS)
    return app


AUTH_ENV = "STUDIO_AUTH"


def parse_auth(text: str | None, where: str = "--auth") -> tuple[str, str] | None:
    if not text:
        return None
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise StudioError(f"{where} must look like USER:PASSWORD, with both parts non-empty.")
    return user, password


def resolve_auth(args) -> tuple[str, str] | None:
    """USER:PASSWORD from --auth-file, else $STUDIO_AUTH, else --auth.

    A password typed on the command line is visible to every user of the machine in `ps`; a file
    (readable by you alone) or an environment variable is not.
    """
    path = getattr(args, "auth_file", None)
    if path:
        try:
            text = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise StudioError(f"Could not read the password file {path} ({exc.strerror or exc}); "
                              "check the path.") from exc
        return parse_auth(text, f"The password file {path}")
    if os.environ.get(AUTH_ENV):
        return parse_auth(os.environ[AUTH_ENV], f"${AUTH_ENV}")
    return parse_auth(getattr(args, "auth", None))


def check_exposure(host: str, share: bool, auth: tuple[str, str] | None) -> None:
    """Refuse to expose the app beyond this computer without a password."""
    if share and not auth:
        raise StudioError(f"A public --share link needs a password: set ${AUTH_ENV}=USER:PASSWORD or "
                          "pass --auth-file FILE.")
    if host not in LOCAL_HOSTS and not auth:
        raise StudioError(f"Listening on {host} lets other computers in; set ${AUTH_ENV}=USER:PASSWORD or "
                          "pass --auth-file FILE, or use 127.0.0.1.")


def launch_kwargs(args) -> dict:
    auth = resolve_auth(args)
    host = getattr(args, "host", None) or "127.0.0.1"
    share = bool(getattr(args, "share", False))
    check_exposure(host, share, auth)
    css = CSS_FILE.read_text(encoding="utf-8") if CSS_FILE.is_file() else None
    import gradio as gr
    from starlette.middleware import Middleware

    from studio.ui.origin_guard import OriginGuard, host_policy

    policy = host_policy(host, getattr(args, "allowed_host", None) or [], share)

    from studio.ui.i18n import gradio_i18n

    return {
        "server_name": host,
        "server_port": int(getattr(args, "port", None) or 7860),
        "share": share,
        "auth": auth,
        "max_file_size": MAX_UPLOAD,
        "allowed_paths": [],
        "show_error": False,  # handlers report sentences themselves; never a traceback
        "ssr_mode": False,
        "footer_links": [],
        "theme": gr.themes.Soft(primary_hue="orange", secondary_hue="amber", neutral_hue="slate"),
        "css": css,
        "app_kwargs": {"middleware": [Middleware(OriginGuard, policy=policy)]},  # in front of Gradio's routes
        "i18n": gradio_i18n(),
    }


def calm_event_queue(app, idle_poll_s: float = 0.02) -> None:
    """Gradio's event queue looks for work every millisecond while it has none: 9% of a core with no page
    open, taken from the training beside it on a 2-core laptop (bench/ui_idle.py). Every 20 ms instead:
    a click waits at most that much longer to start, unnoticeable next to the handlers it starts."""
    queue = getattr(app, "_queue", None)
    if queue is not None and getattr(queue, "sleep_when_free", 0) < idle_poll_s:
        queue.sleep_when_free = idle_poll_s
        queue.progress_update_sleep_when_free = max(getattr(queue, "progress_update_sleep_when_free", 0), 0.1)


def cli_app(args) -> int:
    kwargs = launch_kwargs(args)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    app = build_app()
    app.queue(default_concurrency_limit=2)
    calm_event_queue(app)
    # Runs queued before the app (re)started start as soon as the device is free, page open or not.
    import threading

    from studio.runs.registry import keep_queue_moving

    threading.Thread(target=keep_queue_moving, args=(threading.Event(),), daemon=True,
                     name="run-queue").start()
    # Where the install did not convert the built-in model, convert it now, before anyone asks for it;
    # a click that needs it meanwhile waits for this conversion and says so.
    from studio.models.loading import prepare_in_background

    prepare_in_background()
    with speaking(cli_language()):  # the terminal's sentence in its locale; the page follows each browser
        print(tr("Studio app on {url}").format(url=f"http://{kwargs['server_name']}:{kwargs['server_port']}"),
              flush=True)
    app.launch(**kwargs)
    return 0

