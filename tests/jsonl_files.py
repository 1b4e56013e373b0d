"""Writing test data files: one helper for every test module (tests/ is on sys.path via conftest)."""

import json
from pathlib import Path


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
