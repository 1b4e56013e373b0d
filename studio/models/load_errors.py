"""A failed model load in one sentence: the Hub checked before a download is tried, and the many error types
of transformers and the Hub client turned into ``ModelError`` sentences (studio.models.loading,
studio.models.encoders and studio.models.pretrained all load through ``loading_from``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from studio.errors import StudioError

# studio.models.loading.ResolvedModel (path, display_name, is_local); loading imports this module.
ResolvedModel = Any


class ModelError(StudioError):
    """A model that cannot be used, phrased as one sentence the user can act on."""


def _offline_sentence(name: str) -> str:
    return (
        f"Could not download the model '{name}' from the Hugging Face Hub (no network or unknown id); "
        "use 'embedded' for the built-in SmolLM2-135M, a local model folder, or a .gguf file."
    )


def _raise_hub_error(resolved: ResolvedModel, exc: Exception) -> None:
    """One sentence for a Hub download that failed (missing, gated, cut off, offline); other errors pass."""
    from studio.net import hub_failure, hub_sentence

    failure = hub_failure(exc)
    if failure is not None:
        raise ModelError(hub_sentence("model", resolved.display_name, failure)) from exc
    if isinstance(exc, OSError):  # transformers' own "not a valid model identifier" and kin
        raise ModelError(_offline_sentence(resolved.display_name)) from exc


def _check_hub(resolved: ResolvedModel) -> None:
    from studio.net import hub_reachable

    if not resolved.is_local and not hub_reachable():
        raise ModelError(_offline_sentence(resolved.display_name))


@contextmanager
def loading_from(resolved: ResolvedModel, doing: str = "load the model") -> Iterator[None]:
    """Around a ``from_pretrained`` of ``resolved``: the Hub checked first, and a failed load one sentence (a
    local folder's OSError, or the Hub's failure: missing, gated, cut off, offline); other errors pass."""
    _check_hub(resolved)
    try:
        yield
    except StudioError:
        raise
    except Exception as exc:  # transformers and the Hub client raise many types; each becomes one sentence
        if resolved.is_local and isinstance(exc, OSError):
            raise ModelError(f"Could not {doing} in {resolved.path}: {exc}.") from exc
        if not resolved.is_local:
            _raise_hub_error(resolved, exc)
        raise
