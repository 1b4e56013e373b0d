"""A classify run taken out as one model folder that transformers' ``pipeline`` loads as it is.

LoRA runs are merged into their base (the head, saved in full beside the adapter, comes along); full and head
runs are copied from their model folder. ``id2label``/``label2id`` hold the run's label names, so the pipeline
answers with them. The folder is then loaded back and re-evaluated on the run's eval set: the figures must
equal the run's own (a lost head or a wrong ``label2id`` shows here), else the export is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.errors import StudioError
from studio.evaluation.classify_eval import evaluate_classifier, load_classifier_run
from studio.runs.files import CONFIG_FILE, EVAL_FILE

CHECKED = ("accuracy", "macro_f1", "confusion")
PIPELINE_TAGS = {"tokens": "token-classification", "text": "text-classification",
                 "pair": "text-classification"}


class ClassifierExportError(StudioError):
    """An export that cannot be written or does not give the run's figures back."""


def export_classifier(run: str | Path, to: str | Path) -> dict:
    """Write the merged classifier into ``to`` (a new or empty folder) and check it; returns what was
    checked."""
    to = Path(to)
    if to.exists() and any(to.iterdir()):
        raise ClassifierExportError(f"{to} is not empty; export into a new folder so nothing there is "
                                    "overwritten.")
    loaded = load_classifier_run(run, take=True)  # merging writes into the weights: not the shared copy
    model = loaded.model.merge_and_unload() if loaded.facts["strategy"] == "lora" else loaded.model
    model.config.id2label = dict(enumerate(loaded.labels))
    model.config.label2id = {name: i for i, name in enumerate(loaded.labels)}
    model.save_pretrained(to)
    loaded.tokenizer.save_pretrained(to)
    facts = {**loaded.facts, "strategy": "full", "folder": ".",
             "pipeline_tag": PIPELINE_TAGS[loaded.facts["task"]]}
    (to / "studio_export.json").write_text(json.dumps(facts, indent=2), encoding="utf-8")
    return {"folder": str(to), "pipeline_tag": facts["pipeline_tag"],
            "check": check_export(loaded.folder, to, facts)}


def check_export(run_folder: Path, exported: Path, facts: dict) -> dict | None:
    """The exported folder re-evaluated on the run's eval set; refused when a figure differs."""
    saved = run_folder / EVAL_FILE
    if not saved.is_file():
        return None  # trained without an eval set: nothing to compare with
    trained = json.loads(saved.read_text(encoding="utf-8"))
    source = trained["source"]
    copy = exported.parent / f".{exported.name}-check"
    copy.mkdir(exist_ok=True)
    (copy / "studio_classifier.json").write_text(json.dumps({**facts, "folder": str(exported.resolve())}),
                                                 encoding="utf-8")
    (copy / CONFIG_FILE).write_text((run_folder / CONFIG_FILE).read_text(encoding="utf-8"), encoding="utf-8")
    try:
        again = evaluate_classifier(copy, source, save=False)
    finally:
        for file in copy.iterdir():
            file.unlink()
        copy.rmdir()
    differ = [k for k in CHECKED if again[k] != trained["after"][k]]
    if differ:
        raise ClassifierExportError(f"The exported classifier gives other {', '.join(differ)} on {source} "
                                    "than the "
                                    "run did, so the export is not trusted; report this with the run folder.")
    return {"source": source, **{k: again[k] for k in CHECKED}, "same": True}
