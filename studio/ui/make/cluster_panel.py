"""The Train tab's "cluster" section: the fields of several nodes (distributed.nodes, distributed.main, the
same options `studio train --nodes --main` sets) and the command each node runs, plus the Slurm one.
Training on a cluster starts on the cluster's machines, so this section writes commands; it starts nothing."""

from __future__ import annotations

import gradio as gr

from studio.cluster.commands import node_commands
from studio.ui.i18n import tr
from studio.ui.widgets import widget_for
from studio.ui.wiring import on


def commands(values: dict) -> dict:
    recipe = (values.get("recipe") or "").strip() or "RECIPE.yaml"
    nodes = int(values.get("distributed.nodes") or 1)
    main = (values.get("distributed.main") or "").strip() or "HOST:29500"
    if nodes < 1:
        return {"commands": tr("The number of nodes must be 1 or more.")}
    lines = node_commands(recipe, nodes, main) if nodes > 1 else [f"studio train {recipe}"]
    labelled = [f"# node {rank}\n{line}" for rank, line in enumerate(lines)] if nodes > 1 else lines
    slurm = f"studio train {recipe} --slurm --nodes {nodes}"
    return {"commands": "```bash\n" + "\n".join(labelled)
            + f"\n\n# {tr('or, on a Slurm login node')}\n{slurm}\n```"}


def build() -> dict:
    with gr.Accordion(tr("Cluster: several nodes or Slurm"), open=False, elem_id="cluster-view"):
        gr.Markdown(tr("Each machine runs the same recipe with its own node rank; node 0 writes the run. "
                       "Rehearse it on this machine with main 127.0.0.1 (the README shows how)."))
        with gr.Row():
            recipe = gr.Textbox(label=tr("Recipe file"), value="presets/recipes/pineapple-dpo.yaml",
                                elem_id="cluster-recipe")
            nodes = widget_for("distributed.nodes", 2)
            main = widget_for("distributed.main", "10.0.0.1:29500")
        shown = gr.Markdown(commands({"recipe": recipe.value, "distributed.nodes": 2,
                                      "distributed.main": main.value})["commands"],
                            elem_id="cluster-commands")
    inputs = {"recipe": recipe, "distributed.nodes": nodes, "distributed.main": main}
    for box in (recipe, nodes, main):
        on(box.change, commands, inputs, {"commands": shown})
    return {"recipe": recipe, "nodes": nodes, "main": main, "commands": shown}
