"""The Hub paths run for real: the real huggingface_hub, datasets and transformers clients talk to a local
Hub (tests/hub_server.py) holding one dataset and one tiny model, and the studio previews, loads, caches,
trains on and chats with them by id; a missing repo, a gated one and a dropped connection each end in
one sentence. The clients run in one fresh process (tests/hub_client.py), since HF_ENDPOINT is read
when they are imported."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import HubServer

ROOT = Path(__file__).resolve().parent.parent
ROWS = [{"prompt": f"Is pineapple on pizza a crime? ({i})",
         "chosen": "No, it is a matter of personal preference and taste.",
         "rejected": "Yes, it is a criminal act under the Geneva Convention."} for i in range(8)]


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture(scope="module")
def hub(tiny_model_dir):
    server = HubServer()
    server.add("dataset", "owner/pairs", {"data/train.jsonl": _jsonl(ROWS)})
    server.add("dataset", "owner/gated-data", {"data/train.jsonl": _jsonl(ROWS)}, gated=True)
    server.add("dataset", "owner/flaky-data", {"data/train.jsonl": _jsonl(ROWS * 6)}, flaky=True)
    server.add_folder("model", "owner/tiny", tiny_model_dir)
    server.add_folder("model", "owner/gated-model", tiny_model_dir, gated=True)
    server.add_folder("model", "owner/flaky-model", tiny_model_dir, flaky=True)
    with server:
        yield server


@pytest.fixture(scope="module")
def results(hub, tmp_path_factory):
    """Every step's outcome from one client process (its imports are most of the time)."""
    tmp = tmp_path_factory.mktemp("hub-client")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                                            "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp / "hf"), STUDIO_HOME=str(tmp / "studio"),
               STUDIO_MODEL_CACHE=str(tmp / "models"), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1",
               HF_HUB_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT), STUDIO_IGNORE_CPU_BF16="1")
    out = tmp / "results.json"
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "hub_client.py"), str(out), str(tmp)],
                          check=False, env=env, cwd=tmp, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-4000:]
    found = json.loads(out.read_text())
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    found["seconds"]["cpu"] = round(cpu.ru_utime + cpu.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
                                    1)
    print("seconds per step in the client process:", found["seconds"])  # shown with pytest -s
    return found


def _ok(step: dict) -> dict:
    assert "error" not in step, step.get("trace", step)
    return step


def test_dataset_by_id_previews_by_streaming_and_loads_whole(results, hub):
    preview = _ok(results["preview"])
    assert preview["rows"] == ROWS and preview["origin"] == "Hub dataset"
    assert preview["cached"] == []  # streamed: nothing of the dataset was downloaded whole
    inspect = _ok(results["inspect"])  # `studio data inspect owner/pairs --model owner/tiny --json`
    assert inspect["code"] == 0, inspect["stderr"]
    report = json.loads(inspect["stdout"])
    assert (report["kind"], report["rows"], report["valid_rows"]) == ("preference", len(ROWS), len(ROWS))
    # the Hub model's template
    assert report["model"] == "owner/tiny" and "<|im_start|>user" in report["rendered"]
    whole = _ok(results["whole"])
    assert whole["total"] == len(ROWS) and "train.jsonl" in whole["cached"]
    asked = hub.repos[("dataset", "owner/pairs")].requests
    assert any(r.startswith("GET /api/datasets/owner/pairs") for r in asked)
    assert any("/resolve/" in r and r.endswith("/data/train.jsonl") for r in asked)


def test_token_cache_is_keyed_by_the_resolved_commit(results, hub):
    train = _ok(results["train"])
    cache = _ok(results["cache"])
    assert train["data_cached"] is False
    assert cache["identity"]["commit"] != cache["identity_after"]["commit"]
    assert cache["identity_after"]["commit"] == cache["new_sha"] == hub.repos[("dataset", "owner/pairs")].sha
    assert cache["hit"] is True  # same commit: the rows tokenized for the training run are reused
    assert cache["hit_after"] is False and cache["key_after"] != cache["key"]  # new commit: a miss


def test_model_by_id_downloads_trains_and_chats(results, hub):
    train = _ok(results["train"])
    assert train["global_step"] == 2 and train["base_model"] == train["base_model_path"] == "owner/tiny"
    assert train["train_loss"] > 0
    asked = hub.repos[("model", "owner/tiny")].requests
    assert any(r.startswith("GET /owner/tiny/resolve/") and r.endswith("/model.safetensors") for r in asked)
    chat = _ok(results["chat"])
    assert chat["base"] == "LlamaForCausalLM"
    assert set(chat["answers"]) == {"before", "after"}
    assert all(isinstance(a, str) for a in chat["answers"].values())


@pytest.mark.parametrize("case, words", [
    ("dataset missing", "no dataset 'owner/missing'"),
    ("dataset gated", "'owner/gated-data' on the Hugging Face Hub is gated"),
    ("dataset dropped", "The download of the dataset 'owner/flaky-data' from the Hugging Face Hub broke off"),
    ("model missing", "no model 'owner/missing'"),
    ("model gated", "'owner/gated-model' on the Hugging Face Hub is gated"),
    # Each dropped download costs 5 s: the Hub client retries it five times a second apart before giving up.
    ("model dropped", "The download of the model 'owner/flaky-model' from the Hugging Face Hub broke off"),
])
def test_hub_failures_give_one_sentence(results, case, words):
    failure = results["failures"][case]
    assert failure["studio"], failure
    message = failure["message"]
    assert words in message, message
    assert "\n" not in message and message.endswith(".") and message.count(". ") == 0, message


def test_the_cli_says_the_sentence_alone(results):
    said = _ok(results["cli gated"])  # `studio data inspect owner/gated-data`
    assert said["code"] == 2 and said["stdout"] == ""
    assert said["stderr"].startswith("error: The dataset 'owner/gated-data' on the Hugging Face Hub is gated")
    assert said["stderr"].count("\n") == 1 and "Traceback" not in said["stderr"]
