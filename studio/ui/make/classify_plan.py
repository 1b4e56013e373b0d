"""The Train tab, for classify: before the run starts, each strategy's trainable parameters, memory and time
on this machine (studio.training.classifier_estimate), shown while the method is classify."""

from __future__ import annotations

import gradio as gr

from studio.ui.i18n import tr
from studio.ui.messages import fail

STRATEGY_LABELS = {"full": "The whole network", "head": "The head only", "lora": "LoRA adapters"}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return tr("about {n} s").format(n=max(1, round(seconds)))
    if seconds < 5400:
        return tr("about {n} min").format(n=round(seconds / 60))
    return tr("about {n} h").format(n=round(seconds / 3600, 1))


def plan_markdown(result: dict) -> str:
    facts = result["facts"]
    rows = [f"| {tr('What to tune')} | {tr('Trainable parameters')} | {tr('Memory')} | {tr('Time')} |",
            "|---|---:|---:|---:|"]
    for plan in result["plans"]:
        rows.append(f"| {tr(STRATEGY_LABELS[plan['strategy']])} (`{plan['strategy']}`) | "
                    f"{plan['trainable']:,} ({plan['trainable'] / plan['total']:.2%}) | "
                    f"{plan['need_gib']:.1f} / {plan['have_gib']:.0f} GiB, {tr(plan['verdict'])} | "
                    f"{duration(plan['seconds'])} |")
    length = (tr("{n} tokens on average (measured on the first rows)") if result["measured_length"]
              else tr("{n} tokens (the maximum: the tokenizer is not on this disk)"))
    length = length.format(n=result["tokens"])
    how = tr("For {rows} training and {eval_rows} held-out examples, {epochs} epochs, {length}. Time: the "
             "operations each strategy needs (the whole network: forward and backward; LoRA: no gradient for "
             "the frozen weights; the head: one forward per example for its cached features), plus the "
             "evaluations before and after, divided by the speed this machine multiplied matrices at just "
             "now ({gflops} GFLOP/s) and the share of it a real run reaches. Memory: the estimate the Model "
             "tab's badges use.").format(
        rows=facts["rows"], eval_rows=facts["eval_rows"], epochs=result["epochs"], length=length,
        gflops=round(result["flops_per_second"] / 1e9, 1))
    return "\n".join(rows) + "\n\n" + how


def estimate(values: dict) -> dict:
    """The config on screen -> the plan table, or why it cannot be estimated; nothing when not classify."""
    from studio.training.classifier_estimate import estimate_recipe
    from studio.ui.recipes import config_from_values, config_values

    if values.get("method") != "classify":
        return {"plan": "", "box": gr.update(visible=False)}
    try:
        cfg = config_from_values(values.get("recipe"), config_values(values))
        return {"plan": plan_markdown(estimate_recipe(cfg)), "box": gr.update(visible=True)}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return {"plan": fail(exc), "box": gr.update(visible=True)}


def build() -> dict:
    """Place the box (hidden until the method is classify); ``wire`` connects it once the widgets exist."""
    with gr.Accordion(tr("Before you start: each strategy on this machine"), open=True, visible=False,
                      elem_id="classify-plan") as box:
        plan = gr.Markdown(elem_id="classify-plan-table")
        again = gr.Button(tr("Estimate again"), size="sm", elem_id="classify-plan-again")
    return {"box": box, "plan": plan, "again": again}


def wire(parts: dict, config: dict, recipe, after: tuple = ()) -> None:
    """It fills after each event in ``after`` (the method picked, a recipe loaded, an encoder picked: events
    that also change the data and the model, so the estimate must read their values once they are set) and
    when its button is pressed."""
    from studio.ui.wiring import on

    inputs = {"recipe": recipe, **config}
    outputs = {"plan": parts["plan"], "box": parts["box"]}
    for event in after:
        on(event.then, estimate, inputs, outputs)
    on(parts["again"].click, estimate, inputs, outputs)
