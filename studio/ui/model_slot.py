"""The models the app's faces use, all from the studio's one model cache (studio.models.cache): a run's
before/after lives in the shared generation engine (with the Chat tab's models, one copy per base); a
reward run's scorer is the cache's too. The cache's budget decides what stays in memory beside them."""

from __future__ import annotations

from pathlib import Path

from studio.errors import StudioError
from studio.runs.folder import served_adapter


def _adapter(run_dir: str | Path) -> Path:
    target = served_adapter(run_dir)
    if target is None:
        raise StudioError("This run has no trained adapter yet; wait until it saves a checkpoint or "
                          "finishes.")
    return target


def before_after(run_dir: str | Path, trust_remote_code: bool = False):
    """The BeforeAfter of the selected run (base and tuned from one model: adapter off and on)."""
    from studio.chat.before_after import BeforeAfter
    from studio.chat.engine import shared

    return BeforeAfter(_adapter(run_dir), trust_remote_code=trust_remote_code,
                       engine=shared(trust_remote_code))


def reward_scorer(run_dir: str | Path):
    """The RewardModel of the selected reward run (loaded once; a run trained further loads again)."""
    from studio.evaluation.reward import RewardModel, check_reward_run

    check_reward_run(run_dir)  # a policy run is one sentence, before anything loads
    return RewardModel(_adapter(run_dir))
