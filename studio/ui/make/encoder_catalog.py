"""The Model tab's encoders (its "Encoders (classify)" size choice): the catalog's encoders by size with a
fits / tight / won't-fit badge per strategy (the whole network, the head, LoRA), and picking one sets the
Train tab's method to classify (with the classify recipe, as choosing the method there does)."""

from __future__ import annotations

import html

from studio.ui.i18n import tr
from studio.ui.messages import fail

CATEGORY = "encoders"
STRATEGY_LABELS = {"full": "The whole network", "head": "The head only", "lora": "LoRA adapters"}
BADGE_CLASS = {"fits": "fits", "tight": "tight", "won't fit": "nofit"}


def encoder_ids() -> list[str]:
    from studio.models.classifier_plan import encoder_models

    return [m["id"] for m in encoder_models()]


def encoder_catalog_html() -> str:
    """The table: model, size, languages, licence and each strategy's memory verdict on this machine."""
    from studio.models.classifier_plan import encoder_catalog

    try:
        data = encoder_catalog()
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence in the UI
        return f"<p>{html.escape(fail(exc))}</p>"
    machine, settings = data["machine"], data["settings"]
    head = "".join(f"<th>{html.escape(tr(label))}</th>" for label in
                   ("Model", "Parameters", "Languages", *STRATEGY_LABELS.values()))
    rows = []
    for model in data["models"]:
        note = " · ".join(p for p in (model.get("licence", ""), model.get("note", "")) if p)
        cells = [(f"<td><code>{html.escape(model['id'])}</code>"
                  f"<div class='note'>{html.escape(note)}</div></td>"),
                 f"<td>{model['params_b'] * 1000:,.0f} M</td>", f"<td>{html.escape(model['languages'])}</td>"]
        for strategy in STRATEGY_LABELS:
            plan = model["plans"][strategy]
            cells.append(f"<td><span class='badge {BADGE_CLASS[plan['verdict']]}'>"
                         f"{html.escape(plan['verdict'])}</span>"
                         f"<div class='need'>{plan['need_gib']:.1f} / {plan['have_gib']:.0f} GiB · "
                         f"{plan['trainable']:,}</div></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    intro = tr("This machine has {gib} GiB. Badges: the memory each strategy needs to fine-tune a classifier "
               "(batch {batch} x {length} tokens) and its trainable parameters. Picking an encoder sets the "
               "method to Classify; any chat model of the other sizes also takes a classification head.")
    intro = intro.format(gib=machine["memory_gib"], batch=settings["batch"], length=settings["max_length"])
    return (f"<div class='studio-machine'>{html.escape(intro)}</div><table class='studio-catalog' "
            f"id='encoder-catalog'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def pick_sets_classify(form: dict) -> dict:
    """An encoder picked in the catalog: the Train tab switches to classify (its recipe when the data is the
    shipped one) with this model; any other pick changes nothing there."""
    from studio.ui.make.train_tab import change_method

    picked = form.pop("picked", None)
    if picked not in encoder_ids():
        return {}
    form.update({"method": "classify", "model.name": picked})
    return {**change_method(form), "method": "classify", "model.name": picked}


def wire(choice, train: dict) -> None:
    """``choice``: the Model tab's catalog dropdown; ``train``: what train_tab.build returned."""
    from studio.ui.make import classify_plan
    from studio.ui.recipes import ALL_KEYS
    from studio.ui.wiring import on

    filled = train["filled"]
    config = {k: filled[k] for k in ALL_KEYS}
    picked = on(choice.input, pick_sets_classify, {"picked": choice, **config}, filled)
    classify_plan.wire(train["plan"], config, filled["recipe"], (picked,))
