"""Push through huggingface_hub's real client against a local HTTP server on 127.0.0.1 that speaks
the few Hub endpoints used (whoami-v2, repos/create, repo info, validate-yaml, preupload, commit).
Nothing in huggingface_hub is mocked: HF_ENDPOINT points at the server.

The server answers "regular" upload mode for every file, so file contents travel inline (base64)
in the one NDJSON commit and the test can check every byte that was published.
"""

import base64
import json
import logging
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_eval import PAIRS, tiny_dpo_run, write_jsonl

from studio.errors import StudioError

CANARY = "hf_CANARYtoken0123456789abcdefGHIJ"
BAD_CANARY = "hf_BADcanary9876543210zyxwvuTSRQ"
EXPECTED_FILES = sorted(["adapter_model.safetensors", "adapter_config.json", "tokenizer.json",
                         "tokenizer_config.json", "chat_template.jinja", "README.md", "loss_curve.png"])


class FakeHub:
    """State of the fake Hub: users by token, organization roles, repos with their files and commits."""

    def __init__(self):
        self.tokens = {CANARY: "alice"}
        self.orgs = {"alice": {"alice-lab": "write", "shared-org": "read"}}
        self.repos: dict[str, dict] = {"shared-org/model": {"private": False, "files": {}, "commits": []}}
        self.requests: list[tuple[str, str]] = []
        self.fail_commit = False
        self.url = ""

    def can_write(self, user: str, namespace: str) -> bool:
        return namespace == user or self.orgs.get(user, {}).get(namespace) in ("write", "admin")


def _handler(hub: FakeHub):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output quiet
            pass

        def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _user(self):
            auth = self.headers.get("authorization") or ""
            return hub.tokens.get(auth.removeprefix("Bearer ").strip())

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def _route(self, method: str):
            path = self.path.split("?")[0]
            hub.requests.append((method, path))
            body = self._body() if method == "POST" else b""
            user = self._user()
            if user is None:
                return self._send(401, {"error": "Invalid credentials in Authorization header"})
            parts = path.strip("/").split("/")
            if path == "/api/whoami-v2":
                orgs = [{"name": n, "roleInOrg": r} for n, r in hub.orgs.get(user, {}).items()]
                return self._send(200, {"type": "user", "name": user, "orgs": orgs,
                                        "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
            if path == "/api/validate-yaml":
                return self._send(200, {"errors": [], "warnings": []})
            if path == "/api/repos/create":
                payload = json.loads(body)
                repo_id = f"{payload.get('organization') or user}/{payload['name']}"
                if not hub.can_write(user, repo_id.split("/")[0]):
                    return self._send(403, {"error": "You don't have the rights to create a model here"})
                if repo_id in hub.repos:
                    return self._send(409, {"error": "You already created this model repo",
                                            "url": f"{hub.url}/{repo_id}"})
                hub.repos[repo_id] = {"private": payload.get("visibility") == "private", "files": {},
                                      "commits": []}
                return self._send(200, {"url": f"{hub.url}/{repo_id}"})
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo_id = "/".join(parts[2:4])
                repo = hub.repos.get(repo_id)
                if repo is None:
                    return self._send(404, {"error": "Repository not found"},
                                      {"X-Error-Code": "RepoNotFound"})
                action = parts[4] if len(parts) > 4 else "info"
                if action in ("info", "revision"):
                    return self._send(200, {"id": repo_id, "sha": "0" * 40, "private": repo["private"]})
                if not hub.can_write(user, repo_id.split("/")[0]):
                    return self._send(403, {"error": "You don't have write access to this repo"})
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                       "shouldIgnore": False, "oid": None} for f in files]})
                if action == "commit":
                    if hub.fail_commit:
                        return self._send(500, {"error": "Internal error"})
                    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                    header = next(x["value"] for x in lines if x["key"] == "header")
                    files = {x["value"]["path"]: base64.b64decode(x["value"]["content"])
                             for x in lines if x["key"] == "file"}
                    assert not [x for x in lines if x["key"] not in ("header", "file")]
                    repo["files"].update(files)
                    oid = f"{len(repo['commits']) + 1:040x}"
                    repo["commits"].append({"summary": header["summary"], "files": sorted(files), "oid": oid})
                    return self._send(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}",
                                            "commitOid": oid, "pullRequestUrl": None})
            return self._send(404, {"error": f"unknown endpoint {method} {path}"})

    return Handler


@pytest.fixture
def hub(run_dir, monkeypatch, tmp_path):
    """The fake Hub, switched on after the run is trained (training stays offline, as in conftest)."""
    import huggingface_hub
    from huggingface_hub import constants

    state = FakeHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", state.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # conftest switches the Hub off for downloads
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-saved-login" / "token"))
    huggingface_hub.close_session()
    yield state
    huggingface_hub.close_session()
    server.shutdown()
    server.server_close()


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


def _all_text_under(*roots: Path) -> bytes:
    blob = b""
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file():
                blob += path.read_bytes()
    return blob


def test_push_sends_exactly_the_allowed_files_and_card(hub, run_dir, tmp_path, tiny_model_dir, monkeypatch,
                                                       caplog, capsys, studio_home):
    from studio.evaluation.pairs import evaluate
    from studio.publish.card import build_model_card
    from studio.publish.hub import cli_push

    caplog.set_level(logging.DEBUG)  # every library's debug logging is on while the token is in use
    evaluate(run_dir, write_jsonl(tmp_path / "heldout.jsonl", PAIRS))
    monkeypatch.setenv("HF_TOKEN", CANARY)  # the CLI takes the token from the environment
    args = SimpleNamespace(run_dir=str(run_dir), repo="alice/tiny-adapter", private=True,
                           message="First push")
    assert cli_push(args) == 0
    out = capsys.readouterr()
    assert f"{hub.url}/alice/tiny-adapter" in out.out

    repo = hub.repos["alice/tiny-adapter"]
    assert repo["private"] is True
    assert len(repo["commits"]) == 1 and repo["commits"][0]["summary"] == "First push"
    assert sorted(repo["files"]) == EXPECTED_FILES  # no ref/, checkpoints, studio_base.json or config.yaml
    assert repo["files"]["adapter_model.safetensors"] == (run_dir / "adapter" /
    "adapter_model.safetensors").read_bytes()
    assert repo["files"]["tokenizer.json"] == (run_dir / "adapter" / "tokenizer.json").read_bytes()
    assert repo["files"]["loss_curve.png"][:8] == b"\x89PNG\r\n\x1a\n"
    config = json.loads(repo["files"]["adapter_config.json"])
    assert config["base_model_name_or_path"] == tiny_model_dir.name  # a name, never a local path
    card = repo["files"]["README.md"].decode()
    assert card == build_model_card(run_dir, "alice/tiny-adapter")
    for expected in ("library_name: peft", "Direct Preference Optimization", "`dpo.beta` | 0.5",
                     "Preference accuracy", "![Training loss](loss_curve.png)",
                     'AutoPeftModelForCausalLM.from_pretrained("alice/tiny-adapter")', "Trained for 4 steps"):
        assert expected in card, expected
    assert str(Path.home()) not in card and str(tmp_path) not in card

    # The token went to the Hub in a header and nowhere else.
    pushed = b"".join(repo["files"].values())
    for haystack in (pushed, _all_text_under(run_dir, studio_home), caplog.text.encode(),
                     out.out.encode(), out.err.encode()):
        assert CANARY.encode() not in haystack
    assert ("POST", "/api/models/alice/tiny-adapter/commit/main") in hub.requests

    # Pushing again is a second commit to the same repo, not an error.
    from studio.publish.hub import push_adapter

    assert push_adapter(run_dir, "alice/tiny-adapter", token=CANARY).endswith("/alice/tiny-adapter")
    assert len(repo["commits"]) == 2


def test_bad_token_is_one_sentence_and_never_echoed(hub, run_dir, caplog, capsys, studio_home, monkeypatch):
    from studio.publish.hub import push_adapter

    caplog.set_level(logging.DEBUG)
    with pytest.raises(StudioError, match="rejected the token") as info:
        push_adapter(run_dir, "alice/x", token=BAD_CANARY)
    message = str(info.value)
    assert "\n" not in message and BAD_CANARY not in message
    assert hub.repos.keys() == {"shared-org/model"}

    # The same through `studio -v push` with the token in HF_TOKEN: the one sentence on stderr, and the
    # traceback in the studio's log file, neither with the token.
    from studio.cli import main

    monkeypatch.setenv("HF_TOKEN", BAD_CANARY)
    root = logging.getLogger()
    before = set(root.handlers)
    try:
        assert main(["-v", "push", str(run_dir), "--repo", "alice/x"]) == 2
        # The studio's log file, wherever an earlier test's setup_logging pointed it.
        file_handlers = [h for h in root.handlers
                         if getattr(h, "_studio", False) and isinstance(h, logging.FileHandler)]
        for handler in file_handlers:
            handler.flush()
        log_files = [Path(h.baseFilename) for h in file_handlers]
        logged = b"".join(p.read_bytes() for p in log_files if p.is_file())
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_studio", False) and h not in before]:
            root.removeHandler(handler)
            handler.close()
    out = capsys.readouterr()
    assert out.err.strip().splitlines()[-1].startswith("error: The Hugging Face Hub rejected the token")
    assert log_files and b"push to alice/x failed" in logged and BAD_CANARY.encode() not in logged
    for haystack in (caplog.text, out.out, out.err, _all_text_under(run_dir, studio_home).decode("latin-1")):
        assert BAD_CANARY not in haystack


def test_someone_elses_repo_is_refused_before_any_upload(hub, run_dir):
    from studio.publish.hub import push_adapter

    with pytest.raises(StudioError, match="belongs to 'bob'"):
        push_adapter(run_dir, "bob/adapter", token=CANARY)
    assert hub.requests == [("GET", "/api/whoami-v2")]

    # A namespace the user is in but may not write to: the Hub says 403 and nothing is committed.
    with pytest.raises(StudioError, match="may not write to shared-org/model") as info:
        push_adapter(run_dir, "shared-org/model", token=CANARY)
    assert "\n" not in str(info.value)
    assert hub.repos["shared-org/model"]["commits"] == []
    assert not any(path.endswith("/commit/main") for _, path in hub.requests)


def test_failed_commit_is_not_claimed_done(hub, run_dir):
    from studio.publish.hub import push_adapter

    hub.fail_commit = True
    with pytest.raises(StudioError, match="nothing was published"):
        push_adapter(run_dir, "alice/flaky", token=CANARY)
    assert hub.repos["alice/flaky"]["files"] == {} and hub.repos["alice/flaky"]["commits"] == []


def test_nan_adapter_is_refused_before_the_network(hub, run_dir):
    from safetensors.torch import load_file, save_file

    from studio.publish.hub import push_adapter

    weights = run_dir / "adapter" / "adapter_model.safetensors"
    tensors = load_file(weights)
    tensors[min(tensors)][0] = float("inf")
    save_file(tensors, weights)
    with pytest.raises(StudioError, match="NaN or infinite weights"):
        push_adapter(run_dir, "alice/broken", token=CANARY)
    assert hub.requests == []


def test_no_network_and_no_token(hub, run_dir, monkeypatch):
    from studio.publish.hub import push_adapter

    with pytest.raises(StudioError, match="No Hugging Face token"):
        push_adapter(run_dir, "alice/x")
    with pytest.raises(StudioError, match="not a repo id"):
        push_adapter(run_dir, "no namespace", token=CANARY)

    with socket.socket() as sock:  # a port with nothing listening: connection refused, like no network
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{dead}")
    with pytest.raises(StudioError, match="Could not reach the Hugging Face Hub") as info:
        push_adapter(run_dir, "alice/x", token=CANARY)
    assert "\n" not in str(info.value) and CANARY not in str(info.value)
