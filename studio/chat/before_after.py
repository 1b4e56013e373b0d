"""A run's answers before and after training from one model in memory: the adapter switched off and on,
through the studio's one generation engine (studio.chat.engine) and its one Sampling type."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from studio.chat.engine import Engine
from studio.chat.sampling import Sampling
from studio.chat.sources import Source
from studio.errors import StudioError
from studio.methods import titles_of
from studio.runs.adapters import adapter_dir_of, is_reward_run, run_base

__all__ = ["BeforeAfter"]


class BeforeAfter:
    """One run's adapter on its base, answering with the adapter off (before) and on (after).

    ``engine`` generates (the app passes its shared one); every engine takes its bases from the studio's
    one model cache, so any BeforeAfter of a run shares one copy of the base with the Chat tab, the demo,
    evaluation and the server. A caller that writes into the weights (an export's merge) takes the model
    out of the cache first (``take()``).
    """

    def __init__(self, run_dir: str | Path, trust_remote_code: bool = False, engine=None):
        self.adapter_dir = adapter_dir_of(run_dir)
        if is_reward_run(self.adapter_dir):  # checked before any weights load
            raise StudioError(
                f"{run_dir} is a reward model: it scores answers instead of writing them; use `studio score` "
                f"(or the Score panel) with it, or pick a run trained with {titles_of('policy')} to chat.")
        name = self.adapter_dir.parent.name if self.adapter_dir.name == "adapter" else self.adapter_dir.name
        self.source = Source(str(self.adapter_dir), run_base(self.adapter_dir), str(self.adapter_dir), name)
        self.engine = engine if engine is not None else Engine(trust_remote_code=trust_remote_code)
        self.engine.prepare(self.source)  # load now, so a broken run fails here and not mid-answer

    @property
    def model(self):
        """The PEFT model with this run's adapter active (``disable_adapter()`` gives the base)."""
        return self.engine.model_for(self.source)

    def take(self):
        """The PEFT model with this run's adapter active, now the caller's own (see Engine.take)."""
        return self.engine.take(self.source)

    @property
    def tokenizer(self):
        """The adapter folder's tokenizer: it carries the chat template used in training."""
        return self.engine.prepare(self.source)[1]

    @property
    def _lock(self):  # evaluation scores under it: the adapter switch is state of the shared model
        return self.engine.lock

    def answer(self, prompt: str, tuned: bool, sampling: Sampling | None = None) -> str:
        return "".join(self.stream(prompt, tuned, sampling))

    def stream(self, prompt: str, tuned: bool, sampling: Sampling | None = None) -> Iterator[str]:
        """The answer piece by piece as it is generated (its ``tokens`` count how far it got)."""
        return self.engine.stream(self.source, [{"role": "user", "content": prompt}], sampling, tuned=tuned)

    def stream_many(self, prompts: list[str], tuned: bool, sampling: Sampling | None = None):
        """All ``prompts`` answered at once, side by side (studio.chat.batch): iterate for the answers so
        far."""
        from studio.chat.batch import stream_batch

        return stream_batch(self, prompts, tuned, sampling)

    def answer_many(self, prompts: list[str], tuned: bool, sampling: Sampling | None = None) -> list[str]:
        from studio.chat.batch import answer_batch

        return answer_batch(self, prompts, tuned, sampling)

    def compare(self, prompt: str, sampling: Sampling | None = None) -> dict:
        return {"before": self.answer(prompt, False, sampling), "after": self.answer(prompt, True, sampling)}
