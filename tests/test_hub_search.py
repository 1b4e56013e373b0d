"""The Model tab's Hub search: the real Hub client against a local HTTP server standing in for the Hub
(size and task reach the server as the Hub's own filters), and one sentence when the Hub is away."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from studio.errors import StudioError

MODELS = [
    {"id": "Qwen/Qwen3-0.6B", "modelId": "Qwen/Qwen3-0.6B", "downloads": 900, "gated": False,
     "pipeline_tag": "text-generation",
     "safetensors": {"total": 751632384, "parameters": {"BF16": 751632384}}},
    {"id": "google/gemma-3-270m-it", "modelId": "google/gemma-3-270m-it", "downloads": 500, "gated": "manual",
     "pipeline_tag": "text-generation",
     "safetensors": {"total": 268098176, "parameters": {"BF16": 268098176}}},
]


@pytest.fixture
def fake_hub():
    queries = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            queries.append((url.path, parse_qs(url.query)))
            body = json.dumps(MODELS if url.path == "/api/models" else {}).encode()
            self.send_response(200 if url.path == "/api/models" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", queries
    server.shutdown()


def test_search_sends_size_and_task_and_reads_rows(fake_hub, monkeypatch):
    from studio.models.hub_search import search_models

    endpoint, queries = fake_hub
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    rows = search_models("small", "chat", "qwen", limit=5, endpoint=endpoint)
    assert rows == [{"id": "Qwen/Qwen3-0.6B", "params_b": 0.752, "downloads": 900, "gated": False},
                    {"id": "google/gemma-3-270m-it", "params_b": 0.268, "downloads": 500, "gated": True}]
    path, query = queries[-1]
    assert path == "/api/models"
    assert query["num_parameters"] == ["min:0,max:1B"] and query["pipeline_tag"] == ["text-generation"]
    assert (query["filter"], query["search"], query["sort"]) == (["conversational"], ["qwen"], ["downloads"])
    search_models("large", "text-generation", endpoint=endpoint)
    assert queries[-1][1]["num_parameters"] == ["min:10B"] and "filter" not in queries[-1][1]


def test_offline_is_one_sentence(monkeypatch):
    from studio.models.hub_search import OFFLINE, search_models
    from studio.ui.make.model_tab import search_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # what hub_reachable() answers first
    with pytest.raises(StudioError) as info:
        search_models("small", "chat")
    assert str(info.value) == OFFLINE and OFFLINE.count(".") == 1
    assert OFFLINE in search_hub("small", "chat", "")
    with pytest.raises(StudioError, match="Unknown size category"):
        search_models("huge", "chat")
