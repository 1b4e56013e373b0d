"""Train tab: method, LoRA and hyperparameters (widgets and help built from the config's metadata),
recipes in and out, the exact command, Start / Stop / Resume, and the live monitor."""

from __future__ import annotations

import functools
import logging
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.i18n import translate
from studio.methods import all_methods, find_method, get_method
from studio.safety.consent import FROM_APP
from studio.ui import monitor, samples_panel
from studio.ui.make import classify_plan, code_consent
from studio.ui.messages import fail, ok, sentence, warn
from studio.ui.recipes import (
    ADVANCED_TRAIN_KEYS,
    ALL_KEYS,
    BASIC_TRAIN_KEYS,
    DEMO_RECIPE,
    LORA_KEYS,
    METHOD_KEYS,
    SHIPPED_RECIPE,
    command_for,
    config_from_values,
    config_values,
    load_recipe_config,
    recipe_choices,
    save_recipe,
    shipped_sources,
    values_from_config,
)
from studio.ui.run_picker import run_choices
from studio.ui.widgets import widget_for
from studio.ui.wiring import on

log = logging.getLogger("studio.ui")

# Handlers here take one dict of named values: the config keys (ALL_KEYS) and "recipe" (the loaded recipe,
# which keeps options without a widget), "recipe_pick", "recipe_name", "run", "resume_changes"; they
# return dicts named the same way plus "status", "advice", "command", "yaml" and one "options-METHOD" per
# method's group of options.


def method_advice(method: str) -> str:
    try:
        return get_method(method or "sft").advice
    except ValueError as exc:
        return translate(str(exc))


def option_groups(method: str) -> dict[str, Any]:
    """Show the picked method's own options, hide every other method's."""
    return {f"options-{name}": gr.update(visible=name == method) for name in METHOD_KEYS}


def qlora_widget_kwargs() -> dict:
    """QLoRA is greyed out where bitsandbytes has no backend for this machine, and the box says why."""
    try:
        from studio.models.catalog import detect_machine
        from studio.models.hardware import bnb_backends, bnb_problem

        problem = bnb_problem("QLoRA 4-bit", detect_machine().device, bnb_backends())
    except Exception as exc:  # noqa: BLE001 - logged by sentence(); the box says why in one sentence
        problem = sentence(exc)
    if not problem:
        return {}
    return {"interactive": False, "value": False, "info": f"Off: {problem}"}


def load_recipe(form: dict) -> dict:
    """Fill every widget from the picked recipe file; keeps the recipe (for options without a widget)."""
    path = form.get("recipe_pick")
    try:
        cfg = load_recipe_config(path or "")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    return {"recipe": cfg.to_dict(), "status": ok(f"Loaded recipe {path}."),
            "advice": method_advice(cfg.method),
            **values_from_config(cfg, ALL_KEYS), **option_groups(cfg.method)}


def change_method(form: dict) -> dict:
    """Switching method on a shipped dataset switches to the shipped data and recipe for that method."""
    method = form.get("method")
    source = str(form.get("data.source") or "").strip()
    shipped = not source or any(source.endswith(s) for s in shipped_sources())
    if shipped and method in SHIPPED_RECIPE:
        cfg = load_recipe_config(SHIPPED_RECIPE[method])
        cfg.model.name = form.get("model.name") or cfg.model.name
        cfg.model.trust_remote_code = bool(form.get("model.trust_remote_code"))
        return {"recipe": cfg.to_dict(), "recipe_pick": str(SHIPPED_RECIPE[method]),
                "advice": method_advice(method),
                **values_from_config(cfg, ALL_KEYS), **option_groups(method)}
    # The user's own data stays; the learning rate becomes the method's (DPO's is ~100x smaller than SFT's).
    chosen = find_method(method)
    rate = {"training.learning_rate": chosen.learning_rate} if chosen else {}
    return {"advice": method_advice(method), **rate, **option_groups(method)}


def show_command(form: dict) -> dict:
    """The exact `studio train` command and the full YAML for what is on screen."""
    try:
        cfg = config_from_values(form.get("recipe"), config_values(form))
        command = command_for(cfg, form.get("recipe_pick"))
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"command": fail(exc), "yaml": ""}
    text = ("Run this from the studio's folder to train exactly this "
            f"configuration:\n\n```bash\n{command}\n```\nor save the YAML below as `my-run.yaml` and run "
            "`studio train my-run.yaml`.")
    return {"command": text, "yaml": cfg.to_yaml()}


def save_recipe_as(form: dict) -> dict:
    try:
        cfg = config_from_values(form.get("recipe"), config_values(form))
        path = save_recipe(cfg, form.get("recipe_name") or "")
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    return {"status": ok(f"Saved the recipe as {path}."),
            "recipe_pick": gr.update(choices=recipe_choices(), value=str(path))}


def start_training(form: dict) -> dict:
    """Validate, then hand the run to the worker process; returns at once."""
    try:
        cfg = config_from_values(form.get("recipe"), config_values(form)).validate()
        from studio.runs import start_run

        info = start_run(cfg, allow_code=bool(form.get("allow_code")), how=FROM_APP)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    note = "queued behind the run that is training now" if info.state == "queued" else "started"
    return {"run": gr.update(choices=run_choices(), value=info.id), "allow_code": False,
            "status": ok(f"Run {info.name or info.id} {note}; the curve below updates every second.")}


def time_estimate(form: dict) -> dict:
    """How long what is on screen will train on this machine, from the step times earlier runs measured
    here (studio.runs.timing); no estimate where there is no such run."""
    from studio.runs.timing import estimate, estimate_sentence, this_machine
    from studio.ui.run_picker import list_runs_safe

    try:
        cfg = config_from_values(form.get("recipe"), config_values(form))
        return {"estimate": estimate_sentence(estimate(cfg, list_runs_safe(), this_machine()))}
    except (StudioError, ValueError) as exc:  # a form being edited: no estimate until it makes sense
        log.debug("no time estimate: %s", exc)
        return {"estimate": ""}
    except Exception:
        log.exception("the time estimate failed")
        return {"estimate": ""}


def stop_training(run_id: str | None):
    if not run_id:
        return warn("No run is selected; pick the run to stop under 'Run shown'.")
    try:
        from studio.runs import stop_run

        stop_run(run_id)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return fail(exc)
    return ok("Asked the run to save a checkpoint and stop; Resume continues from there.")


def resume_training(form: dict) -> dict:
    """Continue the selected run; "resume_changes" (key=value ...) first, e.g. after running out of memory,
    or training.max_steps=N to train a completed run further."""
    run_id = form.get("run")
    if not run_id:
        return {"status": warn("No run is selected; pick the stopped run under 'Run shown'.")}
    try:
        from studio.runs import resume_run

        info = resume_run(run_id, (form.get("resume_changes") or "").split() or None,
                          allow_code=bool(form.get("allow_code")), how=FROM_APP)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"status": fail(exc)}
    return {"run": gr.update(choices=run_choices(), value=info.id), "allow_code": False,
            "status": ok(f"Resuming {info.name or info.id} from its last checkpoint.")}


def _recipe_row() -> dict:
    """The recipe to load and the name to save the options as."""
    with gr.Row(equal_height=True):
        with gr.Column(scale=3):
            recipe_pick = gr.Dropdown(recipe_choices(), value=str(DEMO_RECIPE), label="Recipe",
                                      info="A saved set of all the options below (presets/recipes/*.yaml).")
            load_btn = gr.Button("Load recipe", size="md")
        with gr.Column(scale=2):
            recipe_name = gr.Textbox(label="Save as", placeholder="my-recipe",
                                     info="Saved in the studio's recipes folder, listed above.")
            save_btn = gr.Button("Save recipe", size="md")
    return {"recipe_pick": recipe_pick, "load": load_btn, "recipe_name": recipe_name, "save": save_btn}


def _option_widgets(fields: dict, defaults: dict) -> tuple[Any, dict]:
    """The method, its advice and every training option (each method's own in a group shown with it);
    returns the advice and the groups."""
    with gr.Row():
        with gr.Column(scale=2):
            fields["method"] = gr.Radio([(m.title, m.name) for m in all_methods()],
                                        value=defaults["method"], label="Method", elem_id="cfg-method",
                                        info=" ".join(m.description for m in all_methods()))
        with gr.Column(scale=3):
            advice = gr.Markdown(method_advice(defaults["method"]), elem_classes=["studio-advice"])
    with gr.Row():
        for key in LORA_KEYS:
            extra = qlora_widget_kwargs() if key == "lora.qlora" else {}
            value = extra.pop("value", defaults[key])
            fields[key] = widget_for(key, value, **extra)
    with gr.Row():
        for key in BASIC_TRAIN_KEYS:
            fields[key] = widget_for(key, defaults[key])
    groups = {}
    for name, keys in METHOD_KEYS.items():
        with gr.Row(visible=name == defaults["method"], elem_id=f"options-{name}") as group:
            for key in keys:
                fields[key] = widget_for(key, defaults[key])
        groups[f"options-{name}"] = group
    with gr.Accordion("More options", open=False), gr.Row():
        for key in ADVANCED_TRAIN_KEYS:
            fields[key] = widget_for(key, defaults[key], min_width=200)
    return advice, groups


def _run_buttons() -> dict:
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start")
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
        resume = gr.Button("Resume", elem_id="train-resume")
        resume_changes = gr.Textbox(placeholder="training.batch_size=2 training.gradient_accumulation=2",
                                    label="Resume with", show_label=False, scale=2,
                                    elem_id="train-resume-changes",
                                    info="Changes for Resume (key=value): less memory after an out-of-memory "
                                         "failure, or training.max_steps=N to train a completed run further.")
        command_btn = gr.Button("Show command", elem_id="train-command")
    return {"start": start, "stop": stop, "resume": resume, "resume_changes": resume_changes,
            "command": command_btn}


def build(fields: dict, recipe: Any) -> dict:
    """Build the tab. ``fields`` holds the Model and Data tabs' widgets; this tab adds its own."""
    demo_cfg = load_recipe_config(DEMO_RECIPE)
    defaults = values_from_config(demo_cfg, ALL_KEYS)
    gr.Markdown("Choose **how** to train. Every box starts at a sensible value: *Start* works as it is "
                "(the built-in model learns the pineapple preferences with DPO).")
    picks = _recipe_row()
    recipe_pick = picks["recipe_pick"]
    advice, groups = _option_widgets(fields, defaults)
    plan = classify_plan.build()  # for classify: each strategy's parameters, memory and time
    fields["output.name"] = widget_for("output.name", defaults["output.name"], label="Run name")
    allow_code = code_consent.build()
    buttons = _run_buttons()
    estimate = gr.Markdown("", elem_id="train-estimate")
    status = gr.Markdown("", elem_id="train-status")
    with gr.Accordion("Command and YAML that reproduce this run", open=False) as command_box:
        command_md = gr.Markdown(elem_id="train-command-text")
        command_yaml = gr.Code(language="yaml", label="Recipe YAML", interactive=False)
    gr.Markdown("### Progress")
    mon = monitor.build()
    samples = samples_panel.build(mon["run"])  # what RL sampled, for RL runs (RUN/samples.jsonl)

    config = {k: fields[k] for k in ALL_KEYS}
    filled = {"recipe": recipe, "status": status, "advice": advice, "recipe_pick": recipe_pick, **config,
              **groups}
    loaded = on(picks["load"].click, load_recipe, {"recipe_pick": recipe_pick}, filled)
    picked = on(fields["method"].input, change_method, config, filled)
    classify_plan.wire(plan, config, recipe, (loaded, picked))
    on(picks["save"].click, save_recipe_as, {"recipe": recipe, "recipe_name": picks["recipe_name"], **config},
       {"status": status, "recipe_pick": recipe_pick})
    on(buttons["command"].click, show_command, {"recipe": recipe, "recipe_pick": recipe_pick, **config},
       {"command": command_md, "yaml": command_yaml}).then(lambda: gr.Accordion(open=True), None, command_box)
    timed = ("model.name", "method", "training.max_steps", "training.batch_size", "training.max_length")
    on(functools.partial(gr.on, [fields[k].change for k in timed]), time_estimate,
       {"recipe": recipe, **config}, {"estimate": estimate}, show_progress="hidden")
    _wire_runs(buttons, {"recipe": recipe, "allow_code": allow_code, **config},
               {"run": mon["run"], "status": status, "allow_code": allow_code},
               [mon["tick"], samples["tick"]])
    return {"status": status, "recipe_pick": recipe_pick, "advice": advice, "groups": groups,
            "filled": filled, "plan": plan, "estimate": estimate,
            "estimate_inputs": {"recipe": recipe, **config},
            **{f"mon_{k}": v for k, v in mon.items()}}


def _wire_runs(buttons: dict, inputs: dict, shown: dict, ticks: list) -> None:
    """Start, Stop and Resume; Start and Resume wake the monitor's ticks (idle, they stop)."""

    def wake() -> list:
        return [gr.Timer(active=True)] * len(ticks)

    on(buttons["start"].click, start_training, inputs, shown).then(wake, None, ticks)
    buttons["stop"].click(stop_training, shown["run"], shown["status"])
    on(buttons["resume"].click, resume_training,
       {"run": shown["run"], "resume_changes": buttons["resume_changes"], "allow_code": shown["allow_code"]},
       shown).then(wake, None, ticks)
