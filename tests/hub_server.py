"""A local stand-in for the Hugging Face Hub's HTTP API, so the real `huggingface_hub`, `datasets` and
`transformers` clients can be run end to end without the network (point HF_ENDPOINT at `url`).

It speaks what those clients call (read from their installed source, huggingface_hub 2.4 and
datasets 5.2): repository info (`/api/{models,datasets}/ID[/revision/REV]`), file listings
(`/api/.../tree/REV[/PATH]`, `POST /api/.../paths-info/REV`), and file downloads (`HEAD`/`GET
[/datasets]/ID/resolve/REV/PATH`, with X-Repo-Commit, ETag, Content-Length and byte ranges). A repo
can be gated (401 with X-Error-Code: GatedRepo, as the Hub answers an anonymous download) or flaky
(its large files' connections are closed half-way); an unknown id gets the Hub's 404 RepoNotFound.
`POST /_test/commit/{models,datasets}/ID` gives a repo a new commit, as a push to the Hub would.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

DATE = "2026-12-01T00:00:00.000Z"


@dataclass
class Repo:
    files: dict[str, bytes]
    kind: str = "model"  # or "dataset"
    gated: bool = False
    flaky: bool = False  # large downloads are cut off half-way
    commit: int = 1
    requests: list[str] = field(default_factory=list)

    @property
    def sha(self) -> str:
        return hashlib.sha1(f"{self.commit}:{sorted(self.files)}".encode()).hexdigest()


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubServer:
    """The Hub for ``repos`` ({(kind, "owner/name"): Repo}) on 127.0.0.1, in a background thread."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, kind: str, repo_id: str, files: dict[str, bytes], **flags) -> Repo:
        repo = Repo(dict(files), kind, **flags)
        self.repos[(kind, repo_id)] = repo
        return repo

    def add_folder(self, kind: str, repo_id: str, folder: Path, **flags) -> Repo:
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.add(kind, repo_id, files, **flags)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


API = re.compile(r"^/api/(models|datasets)/([^/]+/[^/]+)(?:/(revision|tree|paths-info)/([^/]+)(/.*)?)?$")
RESOLVE = re.compile(r"^(/datasets)?/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
CONTROL = re.compile(r"^/_test/commit/(models|datasets)/([^/]+/[^/]+)$")
FLAKY_BYTES = 2048  # a flaky repo's files above this size are cut off after half their bytes


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: pytest shows the test's own output
        pass

    # ---- answers -------------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, *,
              head: bool = False) -> None:
        self.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, data, head: bool = False) -> None:
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"}, head=head)

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(status, body, {"Content-Type": "application/json", "X-Error-Code": code,
                                  "X-Error-Message": message}, head=head)

    def _repo(self, kind: str, repo_id: str, head: bool) -> Repo | None:
        repo = self.hub.repos.get((kind, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found", head)
        else:
            repo.requests.append(f"{self.command} {self.path}")
        return repo

    def _gate(self, repo: Repo, repo_id: str, head: bool) -> bool:
        if repo.gated:
            self._error(401, "GatedRepo",
                        f"Access to {repo.kind} {repo_id} is restricted. You must have access "
                        "to it and be authenticated to access it. Please log in.", head)
        return repo.gated

    def _revision_ok(self, repo: Repo, rev: str, head: bool) -> bool:
        if unquote(rev) in ("main", repo.sha):
            return True
        self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(rev)}", head)
        return False

    # ---- the API ----------------------------------------------------------------------------------

    def _entries(self, repo: Repo, prefix: str, recursive: bool) -> list[dict]:
        prefix = prefix.strip("/")
        out, folders = [], set()
        for path, data in sorted(repo.files.items()):
            if prefix and not path.startswith(prefix + "/"):
                continue
            rest = path[len(prefix) + 1:] if prefix else path
            parts = rest.split("/")
            for i in range(1, len(parts)):  # the folders on the way
                folder = "/".join(filter(None, [prefix, *parts[:i]]))
                if folder not in folders and (recursive or i == 1):
                    folders.add(folder)
                    out.append({"type": "directory", "path": folder, "oid": _blob_id(folder.encode())})
            if recursive or len(parts) == 1:
                out.append({"type": "file", "path": path, "size": len(data), "oid": _blob_id(data)})
        return out

    def _api(self, m: re.Match, head: bool = False) -> None:
        kind, repo_id, what, rev, rest = m.group(1)[:-1], m.group(2), m.group(3), m.group(4), m.group(5)
        repo = self._repo(kind, repo_id, head)
        if repo is None or (rev and not self._revision_ok(repo, rev, head)):
            return
        if what in (None, "revision"):
            info = {"_id": repo.sha[:24], "id": repo_id, "sha": repo.sha, "private": False,
                    "gated": "manual" if repo.gated else False, "disabled": False, "downloads": 0, "likes": 0,
                    "tags": [], "lastModified": DATE, "createdAt": DATE, "cardData": {},
                    "siblings": [{"rfilename": p} for p in sorted(repo.files)]}
            if kind == "model":
                info.update(modelId=repo_id, library_name="transformers")
            return self._json(info, head)
        if self._gate(repo, repo_id, head):
            return
        if what == "tree":
            query = parse_qs(urlsplit(self.path).query)
            recursive = query.get("recursive", ["False"])[0].lower() == "true"
            path = unquote(rest or "").strip("/")
            if path and path in repo.files:
                return self._error(404, "EntryNotFound", f"{path} is a file", head)
            entries = self._entries(repo, path, recursive)
            if path and not entries:
                return self._error(404, "EntryNotFound", f"{path} does not exist", head)
            return self._json(entries, head)
        length = int(self.headers.get("Content-Length") or 0)  # paths-info: a form with paths=...
        form = parse_qs(self.rfile.read(length).decode())
        everything = self._entries(repo, "", True)
        wanted = set(form.get("paths", []))
        return self._json([e for e in everything if e["path"] in wanted], head)

    # ---- downloads ---------------------------------------------------------------------------------

    def _resolve(self, m: re.Match, head: bool) -> None:
        kind = "dataset" if m.group(1) else "model"
        repo_id, rev, path = m.group(2), m.group(3), unquote(m.group(4))
        repo = self._repo(kind, repo_id, head)
        if repo is None or self._gate(repo, repo_id, head) or not self._revision_ok(repo, rev, head):
            return
        data = repo.files.get(path)
        if data is None:
            return self._error(404, "EntryNotFound", "Entry not found", head)
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{_blob_id(data)}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start, end = 0, len(data) - 1
        ranged = re.match(r"bytes=(\d*)-(\d*)", self.headers.get("Range") or "")
        if ranged and data:
            a, b = ranged.groups()
            start, end = (int(a), min(int(b), end) if b else end) if a else (max(len(data) - int(b), 0), end)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        body = data[start:end + 1]
        if head or not (repo.flaky and len(data) > FLAKY_BYTES):
            return self._send(206 if ranged and data else 200, body, headers, head=head)
        # A dropped connection: the headers promise every byte, half of them come, then the socket closes.
        self.send_response(206 if ranged else 200)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    # ---- HTTP verbs ---------------------------------------------------------------------------------

    def _route(self, head: bool = False) -> None:
        path = urlsplit(self.path).path
        if m := API.match(path):
            return self._api(m, head)
        if m := RESOLVE.match(path):
            return self._resolve(m, head)
        return self._error(404, "RepoNotFound", "Repository not found", head)

    def do_GET(self) -> None:
        self._route()

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if m := CONTROL.match(path):
            repo = self.hub.repos[(m.group(1)[:-1], m.group(2))]
            repo.commit += 1
            return self._json({"sha": repo.sha})
        if (m := API.match(path)) and m.group(3) == "paths-info":
            return self._api(m)
        return self._error(404, "RepoNotFound", "Repository not found")
