"""Where the studio keeps its state on disk. Everything that must survive a restart lives here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PRESETS_DIR = PROJECT_ROOT / "presets"
ASSETS_DIR = PROJECT_ROOT / "assets"
# Models converted by the install (`studio prepare`, run by `make install`): inside the environment, so
# every user of it, with any home folder, starts with the embedded model ready.
INSTALLED_MODELS_DIR = Path(sys.prefix) / "share" / "studio" / "models"


def studio_home() -> Path:
    """The studio's home folder: ``$STUDIO_HOME`` or ``~/.studio``."""
    home = Path(os.environ.get("STUDIO_HOME") or Path.home() / ".studio").expanduser()
    return _private(home)


def _private(path: Path) -> Path:
    """``path``, created 0700 when missing: runs, recipes and logs are the user's alone (an existing folder,
    e.g. one the user named in STUDIO_HOME, keeps its mode)."""
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # made by another process meanwhile
            pass
    return path


def runs_dir() -> Path:
    return _private(studio_home() / "runs")


def model_cache_dir() -> Path:
    # Converted models are large and shared by every run: STUDIO_MODEL_CACHE lets tests and CI
    # keep one copy outside a throw-away STUDIO_HOME.
    path = Path(os.environ.get("STUDIO_MODEL_CACHE") or studio_home() / "models").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
