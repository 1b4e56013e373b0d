"""What kind of file a data file is, from its first bytes: parquet, JSON Lines, JSON, CSV or TSV (an
upload without a known suffix), a .txt that is really one of those or one document per line, and whether
it is binary rather than text. ``read.files`` asks before it reads."""

from __future__ import annotations

import csv
import re


def sniff(head: bytes) -> str | None:
    text = head.lstrip()
    if text.startswith(b"PAR1") or head.startswith(b"PAR1"):
        return "parquet"
    if text[:1] in (b"{",):
        return "jsonl"
    if text[:1] == b"[":
        return "json"
    first = text.split(b"\n", 1)[0]
    if b"\t" in first:
        return "tsv"
    if b"," in first:
        return "csv"
    return None


HEADER_CELL = re.compile(r"^[\w .()/-]{1,40}$")


def txt_kind(head: bytes) -> str:
    """A .txt upload may be JSON Lines or a table saved as text; otherwise it is one document per line."""
    sniffed = sniff(head)
    if sniffed in ("jsonl", "json"):
        return sniffed
    if sniffed in ("csv", "tsv"):
        lines = head.decode("utf-8", "replace").splitlines()[:6]
        rows = list(csv.reader(lines[:-1] or lines, delimiter="\t" if sniffed == "tsv" else ","))
        if rows and all(HEADER_CELL.match(c.strip()) for c in rows[0]) and all(len(r) == len(rows[0]) for r in
        rows):
            return sniffed  # a short header of column names and rows that match it
    return "txt"


def is_binary(head: bytes) -> bool:
    if head.startswith(b"PAR1"):
        return False
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a multi-byte character cut by the sample boundary
            return False
        bad = sum(1 for b in head if b < 9 or 13 < b < 32)
        return bad > len(head) // 20
