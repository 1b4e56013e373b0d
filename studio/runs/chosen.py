"""The run the user chose (a sweep's "use the best"): what Chat and Export start from.

One file in the studio's home, written atomically; readers get the run and when it was chosen.
"""

from __future__ import annotations

import json
import time

from studio.paths import studio_home
from studio.safety.atomic import write_text

CHOSEN_FILE = "chosen_run.json"


def choose_run(run_id: str, why: str) -> None:
    write_text(studio_home() / CHOSEN_FILE, json.dumps({"run": run_id, "why": why, "time": time.time()}))


def chosen_run() -> str | None:
    return chosen_run_since()[0]


def chosen_run_since() -> tuple[str | None, float]:
    """The chosen run and when it was chosen (0 when none was)."""
    try:
        chosen = json.loads((studio_home() / CHOSEN_FILE).read_text(encoding="utf-8"))
        return chosen.get("run") or None, float(chosen.get("time") or 0)
    except (OSError, ValueError, AttributeError, TypeError):
        return None, 0.0
