"""The app's tabs, grouped by the job a user comes to do: Make (Model, Data, Train: numbered, a path),
Judge (arena and votes, leaderboard, benchmarks, scores), Share (export and push, serve, merge), Learn
(the lessons) and Runs. A new panel lands as a sub-tab of its job, never as one more top-level tab.

Also the language switch: the page's language is Gradio's (the browser's, until the switch says
otherwise); the switch remembers the choice in a cookie, so the handlers' sentences follow it too.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from studio.ui.i18n import COOKIE, LANGUAGE_NAMES, catalogs, current_language, languages, tr

CORE_JS = sorted((Path(gr.__file__).parent / "templates" / "frontend" / "assets").glob("core-*.js"))
_CORE_NAME = CORE_JS[0].name if CORE_JS else "core.js"
# Gradio's page keeps its language in its own store, set from the browser's languages; its settings panel
# changes it with `changeLocale` from the page's core module. Before the page is drawn, the language the
# switch chose (its cookie) goes to that same module (the browser hands back the instance already
# loaded), so every string is drawn in it.
APPLY_LANGUAGE_JS = ("async () => { const chosen = document.cookie.split('; ')"
                     f".find(c => c.startsWith('{COOKIE}='));\n"
                     "  if (chosen) { try {\n"
                     f"    const url = new URL('assets/{_CORE_NAME}', document.baseURI).href;\n"
                     "    const core = await import(url);\n"
                     "    await core.changeLocale(chosen.split('=')[1]); } catch (e) { console.warn(e); } }\n"
                     "  return []; }")
SWITCH_JS = ("(lang) => { if (!lang) return lang;\n"
             f"  document.cookie = '{COOKIE}=' + lang + '; path=/; max-age=31536000; SameSite=Lax';\n"
             "  window.location.reload(); return lang; }")


def language_switch() -> gr.Radio:
    """English / Español: the choice is kept in a cookie (the server reads it for its sentences) and the
    page draws again in it."""
    choices = [(LANGUAGE_NAMES.get(lang, lang), lang) for lang in languages()]
    switch = gr.Radio(choices, value=None, show_label=False, container=False, elem_id="language-switch")
    switch.input(None, switch, None, js=SWITCH_JS)  # the user's click only, not the value set on load
    return switch


TRANSLATED_PROPS = ("label", "info", "placeholder")


def translatable(app) -> dict[str, tuple]:
    """Every component whose shown text has a translation: {name: (component, {prop: English text})}.
    Gradio's page translates a component's text only when it first draws it, and it draws the first tab
    before its catalogs arrive; so the page load sends every text again, in the page's language."""
    known = set().union(*(set(c) for c in catalogs().values())) if catalogs() else set()
    found = {}
    for number, block in enumerate(app.blocks.values()):
        texts = {prop: getattr(block, prop, None) for prop in TRANSLATED_PROPS}
        # A Markdown with an id is a status other load handlers fill (a run reattached): left to them.
        kind = type(block).__name__
        if kind == "Button" or (kind == "Markdown" and getattr(block, "elem_id", None) is None):
            texts["value"] = getattr(block, "value", None)
        texts = {prop: text for prop, text in texts.items() if isinstance(text, str) and text in known}
        if texts:
            found[f"c{number}"] = (block, texts)
    return found


WELCOME = ("**New here?** Press **Pineapple pizza demo** (top right) to watch a small model learn a "
           "preference and answer differently, or follow **Make**: 1 · Model, 2 · Data, 3 · Train. Every run "
           "then has its page under **Runs**.")


def welcome_banner() -> gr.Markdown:
    """What to do first, shown while there is no run yet (the load decides)."""
    return gr.Markdown(visible=False, elem_id="welcome", elem_classes=["studio-welcome"])


def greet_in_language(targets: dict, body, switch, welcome):
    """The load handler: the switch shows this browser's language (its cookie, else its languages), every
    text is sent in it, the first-minute banner shows when there is no run yet, and the page, hidden
    until then, is shown."""
    from studio.ui.run_picker import list_runs_safe

    def greet() -> dict:
        texts = {name: gr.update(**{prop: tr(text) for prop, text in props.items()})
                 for name, (_, props) in targets.items()}
        first_time = not list_runs_safe()
        return {**texts, "language": current_language(), "body": gr.Column(visible=True),
                "welcome": gr.update(value=tr(WELCOME) if first_time else "", visible=first_time)}

    outputs = {name: component for name, (component, _) in targets.items()}
    return greet, {**outputs, "language": switch, "body": body, "welcome": welcome}


def build_tabs(recipe) -> dict:
    """Every tab, inside the app's top-level gr.Tabs; returns what the app wires across tabs."""
    from studio.ui.learn import classify_compare, demo_tab, rlhf_demo
    from studio.ui.make import cluster_panel, data_tab, encoder_catalog, model_tab, sweep_view, train_tab
    from studio.ui.runs import run_page

    fields: dict = {}
    parts: dict = {}
    with gr.Tab(tr("Make"), id="make") as parts["make_tab"], gr.Tabs(selected="model"):
        with gr.Tab(tr("1 · Model"), id="model"):
            model = model_tab.build()
            fields.update({k: model[k] for k in ("model.name", "model.trust_remote_code")})
        with gr.Tab(tr("2 · Data"), id="data"):
            data = data_tab.build(fields)
        with gr.Tab(tr("3 · Train"), id="train") as parts["train_tab"]:
            parts["train"] = train_tab.build(fields, recipe)
            sweep_view.build()
            cluster_panel.build()
    data_tab.wire(fields, data)
    encoder_catalog.wire(model["choice"], parts["train"])  # an encoder picked: the method becomes classify
    with gr.Tab(tr("Judge"), id="judge") as parts["judge_tab"]:
        parts.update(_judge_tabs(fields))
    with gr.Tab(tr("Share"), id="share") as parts["share_tab"]:
        parts.update(_share_tabs())
    with gr.Tab(tr("Learn"), id="learn"), gr.Tabs(selected="demo") as parts["learn_tabs"]:
        with gr.Tab(tr("Pizza demo"), id="demo"):
            parts["demo"] = demo_tab.build()
        with gr.Tab(tr("RLHF vs DPO"), id="rlhf"):
            rlhf_demo.build()
        with gr.Tab(tr("Prompting vs fine-tuning"), id="prompting"):
            classify_compare.build()
    with gr.Tab(tr("Runs"), id="runs") as parts["runs_tab"]:
        parts["runs"] = run_page.build()
    return parts


def _run_picker(elem_id: str) -> gr.Dropdown:
    from studio.ui.run_picker import run_choices

    return gr.Dropdown(run_choices(chat_ready=True), label=tr("Run"), elem_id=elem_id)


def _judge_tabs(fields: dict) -> dict:
    from studio.ui.judge import (
        bench_panel,
        chat_tab,
        classify_try,
        judge_panel,
        leaderboard_panel,
        score_panel,
    )

    with gr.Tabs(selected="arena") as judge_tabs:
        with gr.Tab(tr("Arena"), id="arena") as arena_tab:
            chat = chat_tab.build(fields["model.trust_remote_code"], fields["model.name"])
        with gr.Tab(tr("Leaderboard"), id="leaderboard"):
            leaderboard_panel.build()
        with gr.Tab(tr("Judges"), id="judges"):
            judge_panel.build()
        with gr.Tab(tr("Benchmarks"), id="bench") as bench_tab:
            bench_run = _run_picker("bench-run")
            bench_panel.build(bench_run)
        with gr.Tab(tr("Score"), id="score") as score_tab:
            score = score_panel.build()
        with gr.Tab(tr("Classifier"), id="classifier"):
            classify_try.build()
    return {"chat": chat, "arena_tab": arena_tab, "judge_tabs": judge_tabs, "bench_tab": bench_tab,
            "bench_run": bench_run,
            "score": score, "score_tab": score_tab}


def _share_tabs() -> dict:
    from studio.ui.share import export_tab, merge_panel, serve_panel

    with gr.Tabs(selected="export"):
        with gr.Tab(tr("Export and push"), id="export") as export_tab_item:
            export = export_tab.build()
        with gr.Tab(tr("Serve"), id="serve") as serve_tab:
            serve_run = _run_picker("serve-run")
            serve_panel.build(serve_run)
        with gr.Tab(tr("Merge"), id="merge"):
            merge_panel.build()
    return {"export": export, "export_tab": export_tab_item, "serve_tab": serve_tab, "serve_run": serve_run}


def wire_runs_page(parts: dict, tabs) -> None:
    """The Runs tab reads the runs again when it opens; its "Chat with it" opens Judge → Arena on the run."""
    from studio.ui.runs import run_page
    from studio.ui.wiring import on

    page = parts["runs"]
    on(parts["runs_tab"].select, run_page.refresh_runs, {"run": page["run"]},
       {"run": page["run"], **page["view"]})
    picked = parts["chat"]["picked"]
    on(page["chat"].click, run_page.chat_with, {"run": page["run"]},
       {"tabs": tabs, "judge_tabs": parts["judge_tabs"], "pick_a": picked["pick_a"],
        "auto_a": picked["auto_a"],
        "status": page["status"]})


def wire_tab_refreshes(parts: dict) -> None:
    """A tab's run lists are read again when it opens (a run finished meanwhile shows up there): the
    top-level tab and the sub-tab both, since opening Judge shows its Arena without selecting it."""
    from studio.ui import monitor, run_picker
    from studio.ui.judge import chat_tab, score_panel
    from studio.ui.wiring import on

    mon = {key.removeprefix("mon_"): value for key, value in parts["train"].items() if key.startswith("mon_")}
    for tab in (parts["make_tab"], parts["train_tab"]):
        monitor.redraw_when_shown(tab, mon)
    from studio.ui.make.train_tab import time_estimate  # the estimate follows runs finished meanwhile

    for tab in (parts["make_tab"], parts["train_tab"]):  # opening Make shows Train without selecting it
        on(tab.select, time_estimate, parts["train"]["estimate_inputs"],
           {"estimate": parts["train"]["estimate"]},
           show_progress="hidden")
    chat = parts["chat"]
    for event in (parts["judge_tab"].select, parts["arena_tab"].select):
        on(event, chat_tab.refresh_picks, chat["picks"], chat["picked"], form=chat_tab.ChatForm)
    export_run = parts["export"]["run"]
    for tab in (parts["share_tab"], parts["export_tab"]):  # Export offers classifiers too
        tab.select(run_picker.refresh_shareable_runs, export_run, export_run)
    for tab, picker in ((parts["serve_tab"], parts["serve_run"]), (parts["bench_tab"], parts["bench_run"])):
        tab.select(run_picker.refresh_runs, picker, picker)
    parts["score_tab"].select(score_panel.refresh_reward_runs, parts["score"]["run"], parts["score"]["run"])
