"""RLHF vs DPO: one button trains the whole RLHF pipeline (reward model, then RL against it) and DPO on
the same pineapple pairs, then shows side by side the reward model's scores of the base answer and of
each tuned answer, both curves, and held-out accuracy, each with its formula."""

from __future__ import annotations

import html
import time

import gradio as gr

from studio.paths import ASSETS_DIR, PRESETS_DIR
from studio.ui.charts import metric_frames, plot_value
from studio.ui.messages import fail, ok, warn
from studio.ui.run_picker import ACTIVE_STATES, read_records

RECIPES = {"reward model": "pineapple-reward.yaml", "RLHF": "pineapple-rlhf.yaml",
           "DPO": "pineapple-dpo.yaml"}
HELDOUT_FILE = ASSETS_DIR / "pineapple_heldout.jsonl"
PROMPTS_FILE = ASSETS_DIR / "pineapple_prompts.txt"

EXPLAIN_RLHF = (
    "**RLHF** (three models to juggle). Step 2 trains a **reward model** on the pairs with the Bradley-Terry "
    "loss −log σ(r(x, y_w) − r(x, y_l)). Step 3 lets the policy **sample** answers, scores them with r, and "
    "maximises E[r(x, y)] − β·KL(π‖π_ref) with RL (here RLOO): the policy, its frozen reference and the "
    "reward model all take part. Beside its own two answers to each prompt, the pair's written answers are "
    "scored by r too, so RL also moves sentences the model would not write. Its curves: mean reward of the "
    "answers, KL to the base."
)
EXPLAIN_DPO = (
    "**DPO** skips the reward model and the sampling: the policy's own log-ratio against the reference is "
    "an implicit reward, trained directly on the pairs with −log σ(β·log π(y_w|x)/π_ref(y_w|x) − "
    "β·log π(y_l|x)/π_ref(y_l|x)). Two models (policy and reference), no generation during training. Its "
    "curve: the implicit reward margin."
)


def _recipe(name: str):
    from studio.config import RunConfig

    cfg = RunConfig.from_yaml(PRESETS_DIR / "recipes" / name)
    # The recipe's own data file, found in the assets wherever the app runs (the reward model's pairs differ).
    cfg.data.source = str(ASSETS_DIR / cfg.data.source.rsplit("/", 1)[-1])
    cfg.data.eval_source = str(HELDOUT_FILE)
    return cfg.validate()


def answers_html(result: dict) -> str:
    rows = result["rows"]
    labels = list(rows[0]["answers"]) if rows else []
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    body = "".join(
        f"<tr><td class='prompt'>{html.escape(r['prompt'])}</td>" + "".join(
            f"<td>{html.escape(r['answers'][k])}<br><b>r = {r['rewards'][k]:+.2f}</b></td>" for k in labels)
        + "</tr>" for r in rows)
    return (f"<table class='studio-answers'><thead><tr><th>Held-out prompt</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def heldout_table(result: dict):
    import pandas as pd

    rows = []
    for label, ev in result["heldout"].items():
        what = "r(chosen) > r(rejected)" if ev.get("kind") == "reward" else "log π(chosen) > log π(rejected)"
        rows.append([label, what, f"{ev['base']['accuracy']:.0%}", f"{ev['tuned']['accuracy']:.0%}"])
    return pd.DataFrame(rows, columns=["Run", "Counted right when", "Before", "After"])


def run_rlhf_vs_dpo(poll_s: float = 1.0):
    """Generator: queue the three runs (the queue trains them one after another), follow them, compare."""
    from studio.runs import get_run, start_run

    try:
        infos = {label: start_run(_recipe(name)) for label, name in RECIPES.items()}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield fail(exc), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    while True:
        try:
            infos = {label: get_run(info.id) for label, info in infos.items()}
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
            yield fail(exc), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        line = "; ".join(f"{label}: {info.state} {info.step or 0}/{info.total or '?'}"
                         for label, info in infos.items())
        rl = metric_frames(read_records(infos["RLHF"].dir), str(infos["RLHF"].method))["charts"]
        dpo = metric_frames(read_records(infos["DPO"].dir), str(infos["DPO"].method))["charts"]
        yield (f"… Training one after another: {line}.", plot_value(rl[0][1]), plot_value(dpo[0][1]),
               gr.skip(), gr.skip())
        if all(info.state not in ACTIVE_STATES for info in infos.values()):
            break
        time.sleep(poll_s)
    failed = [f"{label} ({info.message})" for label, info in infos.items() if info.state != "completed"]
    if failed:
        yield warn(f"Not every run completed: {', '.join(failed)}; their logs are in the Train tab."), \
            gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    yield ("… All three trained; answering held-out prompts and scoring every answer...",
           gr.skip(), gr.skip(), gr.skip(), gr.skip())
    try:
        from studio.evaluation.rlhf_vs_dpo import compare

        prompts = [p.strip() for p in PROMPTS_FILE.read_text(encoding="utf-8").splitlines() if p.strip()]
        result = compare(infos["reward model"].dir, {"DPO": infos["DPO"].dir, "RLHF": infos["RLHF"].dir},
                         prompts, HELDOUT_FILE)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        yield fail(exc), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    yield (ok("Done: the reward model scored the base answer and each tuned answer."), gr.skip(), gr.skip(),
           answers_html(result), gr.update(value=heldout_table(result), visible=True))


def build() -> dict:
    gr.Markdown("Train **RLHF** (a reward model, then RL against it, on 82 pineapple pairs that ask the "
                "question many ways) and **DPO** (on 40 pairs of its own), then compare. On a laptop CPU "
                "the three runs take several minutes, one after another.")
    go = gr.Button("Run RLHF and DPO side by side", variant="primary", elem_id="rlhf-go")
    status = gr.Markdown(elem_id="rlhf-status")
    with gr.Row():
        with gr.Column():
            gr.Markdown(EXPLAIN_RLHF)
            rl_plot = gr.LinePlot(None, x="step", y="value", color="series", title="RLHF: mean reward",
                                  height=220, elem_id="rlhf-reward")
        with gr.Column():
            gr.Markdown(EXPLAIN_DPO)
            dpo_plot = gr.LinePlot(None, x="step", y="value", color="series", title="DPO: implicit reward "
                                                                                    "margin",
                                   height=220, elem_id="rlhf-dpo")
    answers = gr.HTML(elem_id="rlhf-answers")
    table = gr.Dataframe(value=None, interactive=False, visible=False, label="Held-out pairs",
                         elem_id="rlhf-eval")
    go.click(run_rlhf_vs_dpo, None, [status, rl_plot, dpo_plot, answers, table], show_progress="minimal")
    return {"go": go, "status": status}
