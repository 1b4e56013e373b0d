"""Search the Hugging Face Hub for models by size category and task, through the Hub client's own
model search (``HfApi.list_models``); when the Hub cannot be reached the answer is one sentence."""

from __future__ import annotations

import logging

from studio.errors import StudioError

log = logging.getLogger(__name__)

# Size categories as the Hub's parameter filter spells them (same bounds as presets/models.yaml).
SIZE_FILTERS = {"small": "min:0,max:1B", "medium": "min:1B,max:10B", "large": "min:10B"}
# task -> (pipeline tag, extra tag): what the studio can fine-tune is a text-generation model.
TASKS = {"chat": ("text-generation", "conversational"), "text-generation": ("text-generation", None)}
OFFLINE = "The Hugging Face Hub is not reachable from here, so only the catalog below is shown."


class HubSearchError(StudioError):
    """A search that could not run, as one sentence."""


def search_models(category: str = "small", task: str = "chat", query: str = "", limit: int = 20,
                  endpoint: str | None = None) -> list[dict]:
    """The most downloaded Hub models of one size category and task, as catalog-like rows."""
    import httpx2
    from huggingface_hub import HfApi

    from studio.net import find_token, hub_endpoint, hub_reachable

    if category not in SIZE_FILTERS:
        raise HubSearchError(f"Unknown size category '{category}'; choose small, medium or large.")
    if task not in TASKS:
        raise HubSearchError(f"Unknown task '{task}'; choose {' or '.join(TASKS)}.")
    if endpoint is None and not hub_reachable():
        raise HubSearchError(OFFLINE)
    pipeline_tag, tag = TASKS[task]
    # A token (when there is one) lets the search list gated models the user may already use.
    api = HfApi(endpoint=endpoint or hub_endpoint(), token=find_token(None)[0] or False,
                library_name="fine-tuning-studio")
    try:
        found = list(api.list_models(search=(query or "").strip() or None, pipeline_tag=pipeline_tag,
                                     filter=tag, num_parameters=SIZE_FILTERS[category], sort="downloads",
                                     limit=limit,
                                     expand=["downloads", "gated", "safetensors", "pipeline_tag"]))
    except Exception as exc:  # any failure of the search is one sentence; the detail goes to the log
        log.info("hub search failed: %s", type(exc).__name__)
        log.debug("hub search failure detail", exc_info=True)
        raise HubSearchError(OFFLINE if isinstance(exc, (OSError, httpx2.RequestError)) else
                             f"The Hub search failed ({type(exc).__name__}); try again later.") from None
    rows = []
    for model in found:
        total = getattr(getattr(model, "safetensors", None), "total", None)
        rows.append({"id": model.id, "params_b": round(total / 1e9, 3) if total else None,
                     "downloads": model.downloads or 0, "gated": bool(model.gated)})
    return rows
