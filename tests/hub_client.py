"""The studio's Hub paths, run in a fresh process pointed at tests/hub_server.py (HF_ENDPOINT is read
when huggingface_hub and datasets are imported, so the test process itself cannot be re-pointed).

Usage: python tests/hub_client.py RESULTS.json RUN_ROOT. Every step's outcome goes into RESULTS.json
for tests/test_hub_paths.py to check; a step that fails records its error instead of stopping the rest.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback
import urllib.request
from pathlib import Path

STARTED = time.monotonic()


def cached_files(repo_folder: str) -> list[str]:
    """The files the Hub client has downloaded whole for one repo (its blobs, by the names they have)."""
    root = Path(os.environ["HF_HOME"]) / "hub" / repo_folder / "snapshots"
    return sorted(p.name for p in root.rglob("*") if p.is_file() or p.is_symlink()) if root.is_dir() else []


def cli(*argv: str) -> dict:
    """What `studio ARGV...` prints and returns (run in this process: its imports are already paid)."""
    from studio.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(list(argv))
    return {"code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def failure(call) -> dict:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - what the studio raised is the result
        return {"type": type(exc).__name__, "studio": _is_studio(exc), "message": str(exc)}
    return {"type": None, "studio": False, "message": "no error"}


def _is_studio(exc: Exception) -> bool:
    from studio.errors import StudioError

    return isinstance(exc, StudioError)


def main(out_path: str, root: str) -> None:
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.config import RunConfig
    from studio.data.prepare.token_cache import source_identity
    from studio.data.read.source import read_preview, read_source
    from studio.models.loading import load_model, load_tokenizer, resolve_model
    from studio.training.train import prepare, train

    out: dict = {"seconds": {"imports": round(time.monotonic() - STARTED, 2)}}

    def step(name, fn):
        started = time.monotonic()
        try:
            out[name] = fn()
        except Exception as exc:  # noqa: BLE001
            out[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        out["seconds"][name] = round(time.monotonic() - started, 2)

    def preview():
        raw = read_preview("owner/pairs")
        return {"rows": [r for _, r in raw.rows], "origin": raw.origin,
                "cached": cached_files("datasets--owner--pairs")}

    def whole():
        raw = read_source("owner/pairs")
        return {"total": raw.total, "cached": cached_files("datasets--owner--pairs")}

    cfg = RunConfig.from_dict({
        "method": "dpo", "model": {"name": "owner/tiny"},
        "data": {"source": "owner/pairs", "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "batch_size": 2, "max_length": 64,
                     "save_steps": 100},
        "output": {"dir": f"{root}/runs"},
    })
    run_dir = Path(root) / "run"

    def trained():
        summary = train(cfg, run_dir)
        return {k: summary[k] for k in ("global_step", "base_model", "base_model_path", "data_cached",
                                        "train_loss")}

    def cache():
        seen = {"identity": source_identity("owner/pairs", "train", None)}
        data = prepare(cfg)[4]
        seen.update(hit=data.prepared, key=data.cache_key)
        # A push to the dataset on the Hub: the same name now resolves to another commit.
        request = urllib.request.Request(os.environ["HF_ENDPOINT"] + "/_test/commit/datasets/owner/pairs",
                                         b"",
                                         method="POST")
        seen["new_sha"] = json.loads(urllib.request.urlopen(request).read())["sha"]
        seen["identity_after"] = source_identity("owner/pairs", "train", None)
        data = prepare(cfg)[4]
        seen.update(hit_after=data.prepared, key_after=data.cache_key)
        return seen

    def chat():
        pair = BeforeAfter(run_dir)
        answers = pair.compare("Is pineapple on pizza a crime?", Sampling(max_new_tokens=8))
        return {"answers": answers, "base": type(pair.model.get_base_model()).__name__}

    step("preview", preview)
    step("inspect", lambda: cli("data", "inspect", "owner/pairs", "--model", "owner/tiny", "--json"))
    step("whole", whole)
    step("train", trained)
    step("cache", cache)
    step("chat", chat)
    out["failures"] = {}
    for case, call in {
        "dataset missing": lambda: read_preview("owner/missing"),
        "dataset gated": lambda: read_source("owner/gated-data"),
        "dataset dropped": lambda: read_source("owner/flaky-data"),
        "model missing": lambda: load_tokenizer(resolve_model("owner/missing")),
        "model gated": lambda: load_tokenizer(resolve_model("owner/gated-model")),
        "model dropped": lambda: load_model(resolve_model("owner/flaky-model")),
    }.items():
        step(case, lambda call=call: failure(call))
        out["failures"][case] = out.pop(case)
    step("cli gated", lambda: cli("data", "inspect", "owner/gated-data"))
    Path(out_path).write_text(json.dumps(out, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
