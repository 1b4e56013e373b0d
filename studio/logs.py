"""Logging: tracebacks and debug detail go to a file in the studio's home, not to the user's face."""

from __future__ import annotations

import logging
import logging.handlers
import warnings
from pathlib import Path

from studio.paths import studio_home

LOG_MAX_BYTES = 5 * 2**20  # studio.log rotates at this size ...
LOG_BACKUPS = 3  # ... keeping this many older files (studio.log.1 ...): a long-lived app never fills the disk


def rotating_handler(path: Path, max_bytes: int = LOG_MAX_BYTES,
                     backups: int = LOG_BACKUPS) -> logging.Handler:
    return logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                                encoding="utf-8")


def setup_logging(verbose: bool = False) -> Path:
    log_file = studio_home() / "studio.log"
    root = logging.getLogger()
    if not any(getattr(h, "_studio", False) for h in root.handlers):
        handler = rotating_handler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._studio = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        console = logging.StreamHandler()
        console.setLevel(logging.DEBUG if verbose else logging.WARNING)
        console._studio = True  # type: ignore[attr-defined]
        root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.captureWarnings(True)  # library deprecation chatter goes to the log file
    warnings.filterwarnings("ignore", category=FutureWarning)
    return log_file
