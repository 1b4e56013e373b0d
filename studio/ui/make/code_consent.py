"""The app's "yes" for a run that would execute code (issue 31): a recipe line alone never runs code.

`build()` makes the confirmation box the Train tab's Start and Resume read (studio.safety.consent records
it in the run folder); it is never filled from a recipe and is cleared after each start: each run needs
its own yes.
"""

from __future__ import annotations

import gradio as gr

from studio.ui.i18n import tr

LABEL = "Allow this run to execute code"
INFO = ("Needed when the recipe sets model.trust_remote_code or lists Python reward functions: their code "
        "runs with your rights. Tick it only for recipes and models you trust.")


def build() -> gr.Checkbox:
    return gr.Checkbox(value=False, label=tr(LABEL), info=tr(INFO), elem_id="train-allow-code")
