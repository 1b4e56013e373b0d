"""`studio models`: the catalog's chat models by size with each method's memory verdict on this machine, then
its encoders (`method: classify`) with each strategy's (full, head, lora); --json prints both."""

from __future__ import annotations

import json

from studio.i18n import tr
from studio.models.catalog import CATEGORIES, catalog_with_estimates, load_catalog, settings_label
from studio.models.classifier_plan import encoder_catalog

ENCODERS = "encoders"  # the catalog's section of encoders, and `--category`'s choice for it


def cli_models(args) -> int:
    data = catalog_with_estimates(args.category)  # no chat model falls under "encoders"
    if args.category in (None, ENCODERS):
        data[ENCODERS] = encoder_catalog()["models"]
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    machine = data["machine"]
    print(tr("This machine: {name} with {memory} GiB").format(name=machine["name"],
                                                             memory=machine["memory_gib"]))
    print()
    for cat in CATEGORIES:
        models = [m for m in data["models"] if m["category"] == cat]
        if not models:
            continue
        print(tr(load_catalog()["categories"][cat]["label"]))  # the catalog's labels are in app.json
        for m in models:
            verdicts = "  ".join(f"{k}: {tr(v['verdict'])} ({v['need_gib']} GiB"
                                 f"{settings_label(v, tr(', with '))})"
                                 for k, v in m["estimates"].items())
            print(f"  {m['id']:<40} {m['params_b']:>6}B {m['kind']:<8} {verdicts}")
        print()
    if data.get(ENCODERS):
        print(tr("{encoders} - each strategy's memory for 2 labels, batch 16, length 128").format(
            encoders=tr(load_catalog()[ENCODERS]["label"])))
        for m in data[ENCODERS]:
            verdicts = "  ".join(f"{name}: {tr(plan['verdict'])} ({plan['need_gib']} GiB)"
                                 for name, plan in m["plans"].items())
            print(f"  {m['id']:<40} {m['params_b']:>6}B {m['family']:<12} {verdicts}")
    return 0
