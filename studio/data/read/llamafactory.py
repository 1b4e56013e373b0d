"""LLaMA-Factory's ``data/`` folder: ``dataset_info.json`` names each dataset, its file, its
formatting (alpaca or sharegpt), its column mapping and its role tags.

Pointing the studio at the folder (or at the json) offers those datasets by name; the subset
(``data.subset``, ``--subset``) picks one. Its rows are renamed into the layouts the studio
detects, so detection, checks and previews are the same as for any other file.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.data.read.files import LLAMAFACTORY_INFO, DataError, RawRows, read_file

# LLaMA-Factory's column names -> the studio's, per formatting (data/README.md of LLaMA-Factory).
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
                  "history": "history", "chosen": "chosen", "rejected": "rejected", "kto_tag": "label",
                  "images": "images", "videos": "videos", "audios": "audios"}
SHAREGPT_COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools", "chosen": "chosen",
                    "rejected": "rejected", "kto_tag": "label", "images": "images", "videos": "videos",
                    "audios": "audios"}
TAG_DEFAULTS = {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
TAG_ROLES = {"user_tag": "user", "assistant_tag": "assistant", "observation_tag": "observation",
             "function_tag": "function_call", "system_tag": "system"}


def read_info(path: Path) -> tuple[Path, dict]:
    info_path = path / LLAMAFACTORY_INFO if path.is_dir() else path
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"Could not read {info_path.name} as LLaMA-Factory's dataset list ({exc}); "
                        "check that it is valid JSON.") from exc
    if not isinstance(info, dict):
        raise DataError(f"{info_path.name} is not LLaMA-Factory's dataset list (a JSON object of datasets by "
                        "name).")
    return info_path.parent, info


def local_names(path: Path) -> list[str]:
    """The datasets of a dataset_info.json whose files are in the folder (what the Data tab offers)."""
    folder, info = read_info(path)
    return [name for name, entry in info.items()
            if isinstance(entry, dict) and entry.get("file_name") and (folder / entry["file_name"]).exists()]


def read_llamafactory(path: Path, *, split: str = "train", subset: str | None = None,
                      limit: int | None = None) -> RawRows:
    folder, info = read_info(path)
    if not subset:
        names = local_names(path)
        shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
        raise DataError(f"This LLaMA-Factory dataset list offers {len(names)} local datasets ({shown}); "
                        "give one of them as the subset.")
    entry = info.get(subset)
    if not isinstance(entry, dict):
        raise DataError(f"LLaMA-Factory's {LLAMAFACTORY_INFO} has no dataset '{subset}'; give one of: "
                        f"{', '.join(local_names(path)[:12])}.")
    if entry.get("file_name"):
        raw = read_file(folder / entry["file_name"], split=split, limit=limit)
    elif entry.get("hf_hub_url"):
        from studio.data.read.hub import read_hub

        raw = read_hub(entry["hf_hub_url"], split=entry.get("split", split), subset=entry.get("subset"),
                       limit=limit)
    else:
        raise DataError(f"The dataset '{subset}' in {LLAMAFACTORY_INFO} names neither a file nor a Hugging "
                        "Face "
                        "Hub id; choose another dataset.")
    translate = _translator(entry)
    raw.rows = [(i, translate(r)) for i, r in raw.rows]
    raw.name = f"{subset} ({raw.name})"
    return raw


def _translator(entry: dict):
    """A function that renames one row's columns (and role tags) into a layout the studio detects."""
    sharegpt = entry.get("formatting", "alpaca") == "sharegpt"
    given = entry.get("columns") or {}
    ours = SHAREGPT_COLUMNS if sharegpt else dict(ALPACA_COLUMNS)
    if not sharegpt and entry.get("ranking") and "prompt" in given:
        ours["prompt"] = "prompt"  # alpaca ranking: prompt/chosen/rejected, the TRL preference layout
    if not sharegpt and set(given) == {"prompt"}:
        ours = {"prompt": "text"}  # pre-training: LLaMA-Factory reads the prompt column as plain text
    renames = {src: ours[canon] for canon, src in given.items() if canon in ours and src}
    if not given and not sharegpt:
        renames = {}  # the default alpaca columns are the studio's names already
    tags = {**TAG_DEFAULTS, **(entry.get("tags") or {})}
    roles = {tags[t]: r for t, r in TAG_ROLES.items()}
    role_key, content_key = tags["role_tag"], tags["content_tag"]

    def turn(message):
        if not isinstance(message, dict):
            return message
        role = message.get(role_key)
        return {"from": roles.get(role, role), "value": message.get(content_key)}

    def translate(row: dict) -> dict:
        out = {renames.get(k, k): v for k, v in row.items()}
        if sharegpt:
            for key in ("conversations", "chosen", "rejected"):
                value = out.get(key)
                if isinstance(value, list):
                    out[key] = [turn(m) for m in value]
                elif isinstance(value, dict):
                    out[key] = turn(value)
        return out

    return translate
