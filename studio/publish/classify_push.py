"""Push a classify run to the Hub as a model that transformers' ``pipeline`` loads by its repo id.

The run is exported first (studio.publish.classify_export: LoRA merged, ``id2label``/``label2id`` the run's
label names, re-evaluated and refused when its figures differ from the run's), then a model card is written
with the pipeline tag in its metadata (the Hub's widget and ``pipeline``'s task) and the run's held-out
figures
(accuracy, macro-F1, per class), and every file goes in one commit. No token reaches a file or the log.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from studio.i18n import tr
from studio.publish.classify_export import export_classifier
from studio.publish.hub import (
    HubError,
    _check_namespace,
    _check_repo_id,
    _ensure_repo,
    _translate,
    resolve_token,
)
from studio.runs.files import EVAL_FILE

log = logging.getLogger(__name__)
DEFAULT_MESSAGE = "Upload classifier trained with the studio"


def figures_markdown(after: dict) -> str:
    """The held-out figures as the card's tables: the headline, then precision/recall/F1 per class."""
    lines = ["| Accuracy | Macro-F1 | Majority-label macro-F1 | Examples |", "|---:|---:|---:|---:|",
             (f"| {after['accuracy']:.4f} | {after['macro_f1']:.4f} | "
              f"{after.get('majority_macro_f1', 0):.4f} | "
              f"{after.get('examples', '')} |"), "", "| Label | Precision | Recall | F1 | Support |",
             "|---|---:|---:|---:|---:|"]
    for name, row in (after.get("per_class") or {}).items():
        lines.append(f"| {name} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | "
                     f"{row['support']} |")
    return "\n".join(lines)


def classifier_card(repo_id: str, facts: dict, after: dict | None) -> str:
    """README.md: metadata (pipeline tag, library, base model, metrics) and what the classifier does."""
    from huggingface_hub import ModelCardData

    from studio.publish.provenance import licence

    base = facts.get("base_model") or ""
    found = licence(base, base)  # the catalog's encoders (and chat models) say theirs
    data = ModelCardData(library_name="transformers", pipeline_tag=facts["pipeline_tag"],
                         tags=["fine-tuning-studio", facts["pipeline_tag"]],
                         license=found[0] if found else None,
                         license_name=found[1] if found and found[0] == "other" else None,
                         base_model=base if base.count("/") == 1 and not base.startswith(("/", ".")) else
                         None)
    labels = ", ".join(f"`{name}`" for name in facts["labels"])
    body = [f"# {repo_id.split('/')[-1]}", "",
            (f"A {facts['pipeline_tag']} model fine-tuned from `{base}` with the studio "
             f"(strategy `{facts['strategy_trained']}`). Labels: {labels}."), "", "```python",
            "from transformers import pipeline", "",
            f'classify = pipeline("{facts["pipeline_tag"]}", model="{repo_id}")',
            'print(classify("Type a text here."))', "```", ""]
    if after:
        body += ["## Held-out evaluation", "", figures_markdown(after), ""]
    return f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body)


def stage_classifier(run_dir: str | Path, folder: Path, repo_id: str) -> list[str]:
    """Export, check and write the card into ``folder``; the files to push."""
    facts_file = Path(run_dir) / "studio_classifier.json"
    strategy = json.loads(facts_file.read_text(encoding="utf-8")).get("strategy", "")
    exported = export_classifier(run_dir, folder)
    facts = {**json.loads((folder / "studio_export.json").read_text(encoding="utf-8")),
             "strategy_trained": strategy}
    saved = Path(run_dir) / EVAL_FILE
    after = json.loads(saved.read_text(encoding="utf-8"))["after"] if saved.is_file() else None
    facts["pipeline_tag"] = exported["pipeline_tag"]
    (folder / "README.md").write_text(classifier_card(repo_id, facts, after), encoding="utf-8")
    # studio_export.json names local paths (the base's folder): it stays here, off the Hub
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "studio_export.json")


def push_classifier(run_dir: str | Path, repo_id: str, token: str | None = None, private: bool = False,
                    message: str = DEFAULT_MESSAGE, *, endpoint: str | None = None) -> str:
    """Push the checked classifier with its card to ``repo_id`` in one commit; returns the repo's URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    from studio.net import hub_endpoint

    repo_id = _check_repo_id(repo_id)
    endpoint = (endpoint or hub_endpoint()).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="studio-push-") as tmp:
        staging = Path(tmp) / "model"
        files = stage_classifier(run_dir, staging, repo_id)
        api = HfApi(endpoint=endpoint, token=resolve_token(token), library_name="fine-tuning-studio")
        try:
            _check_namespace(api.whoami(), repo_id)
            repo_url = _ensure_repo(api, repo_id, private)
            operations = [CommitOperationAdd(path_in_repo=name,
                                             path_or_fileobj=str(staging / name)) for name in files]
            api.create_commit(repo_id, operations, commit_message=message or DEFAULT_MESSAGE,
                              repo_type="model")
        except HubError:
            raise
        except Exception as exc:  # noqa: BLE001 - the Hub client raises many types; each becomes one sentence
            log.info("push to %s failed: %s", repo_id, type(exc).__name__)
            raise _translate(exc, repo_id, endpoint) from None
    return repo_url or f"{endpoint}/{repo_id}"


def cli_push(args) -> int:
    """`studio push RUN --repo ID`: a classify run goes up as a pipeline-ready model, any other as its
    adapter."""
    from studio.evaluation.classify_eval import is_classifier_run
    from studio.publish import hub

    if not is_classifier_run(args.run_dir):
        return hub.cli_push(args)
    url = push_classifier(args.run_dir, args.repo, private=args.private,
                          message=getattr(args, "message", None) or DEFAULT_MESSAGE)
    print(tr('Pushed the classifier to {url}; pipeline("text-classification", model="{repo}") loads it.')
          .format(url=url, repo=args.repo))
    return 0
