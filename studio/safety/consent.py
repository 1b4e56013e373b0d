"""Code runs only when the user says so: a recipe line alone never runs code.

A recipe can ask for code to run: `model.trust_remote_code` (the model repository's Python) or what a
method's options name (its ``Method.user_code``, e.g. RL's Python reward functions). Such a run starts only
when the user confirms it (the CLI's `--allow-code`, the app's
confirmation box); the confirmation is recorded in the run folder (``CONSENT_FILE``), and training refuses a
run whose config asks for more code than was confirmed (e.g. a config.yaml edited after the start).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.safety.atomic import write_json

CONSENT_FILE = "code_consent.json"
FROM_CLI = "--allow-code on the command line"
FROM_APP = "confirmed in the app"


class CodeConsentError(StudioError):
    """A recipe asks to run code the user did not allow."""


def code_asked(cfg: Any) -> list[str]:
    """What in ``cfg`` would run code that is not the studio's or its libraries' own, one name each."""
    asked = ["model.trust_remote_code"] if cfg.model.trust_remote_code else []
    return asked + cfg.user_code()  # what the method's options run, as its module declares (Method.user_code)


def refusal(asked: list[str]) -> CodeConsentError:
    return CodeConsentError(
        f"This recipe would run code ({', '.join(asked)}), which a recipe alone may not do; if you trust it, "
        "start it with --allow-code (in the app: tick 'Allow this run to execute code').")


def check_allowed(cfg: Any, allow_code: bool) -> list[str]:
    """The code ``cfg`` asks to run; a CodeConsentError sentence when it asks without ``allow_code``."""
    asked = code_asked(cfg)
    if asked and not allow_code:
        raise refusal(asked)
    return asked


def record(run_dir: str | Path, asked: list[str], how: str) -> None:
    """Write what the user allowed, how and when into the run folder (nothing when nothing was asked)."""
    if asked:
        write_json(Path(run_dir) / CONSENT_FILE, {"allowed": asked, "how": how,
                                                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def allowed(run_dir: str | Path) -> list[str]:
    try:
        facts = json.loads((Path(run_dir) / CONSENT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [a for a in facts.get("allowed", []) if isinstance(a, str)] if isinstance(facts, dict) else []


def require(cfg: Any, run_dir: str | Path) -> None:
    """Refuse to train ``cfg`` in ``run_dir`` when it asks for code its consent record does not cover."""
    missing = [a for a in code_asked(cfg) if a not in allowed(run_dir)]
    if missing:
        raise refusal(missing)
