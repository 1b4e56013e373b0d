"""`studio serve` in the background, for the app's Serve panel: one server at a time, its own process
(stopping it frees the model's memory), remembered in $STUDIO_HOME/serve/server.json so the panel
knows about it after an app restart. Only the process recorded there is ever stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.errors import StudioError
from studio.paths import studio_home


def _folder() -> Path:
    return studio_home() / "serve"


def log_file() -> Path:
    return _folder() / "serve.log"


def _state_file() -> Path:
    return _folder() / "server.json"


def _alive(pid: int) -> bool:
    """Whether ``pid`` is still our `studio serve` (a reused pid of another program is not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if cmdline == [b""]:  # empty while the kernel is still exec-ing it (right after start), or a zombie
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
    return b"studio" in cmdline and b"serve" in cmdline


def _log_tail() -> str:
    try:
        lines = [line for line in log_file().read_text(encoding="utf-8", errors="replace").splitlines()
                 if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1]


def status() -> dict:
    """{"state": "stopped" | "loading" | "ready", ...the recorded server (url, model, pid, key)}."""
    try:
        record = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "stopped", "message": _log_tail()}
    if not _alive(int(record["pid"])):
        _state_file().unlink(missing_ok=True)
        return {"state": "stopped", "message": _log_tail()}
    import httpx

    try:  # any HTTP answer (a 401 without the key included) means the model is loaded and listening
        httpx.get(f"{record['url']}/models", timeout=2)
        return {**record, "state": "ready"}
    except httpx.HTTPError:
        return {**record, "state": "loading"}


def start(model: str, *, port: int = 8000, host: str = "127.0.0.1", api_key_file: str | None = None,
          base: str = "embedded") -> dict:
    """Start `studio serve` for ``model`` and return its record; refusals come before anything starts."""
    from studio.publish.serve import read_api_key
    from studio.publish.serve_engine import model_id, source_of

    current = status()
    if current["state"] != "stopped":
        raise StudioError(f"A server is already running at {current['url']} ({current['model']}); stop it "
                          "first.")
    if not model:
        raise StudioError("Pick a run to serve.")
    if not 1 <= int(port) <= 65535:
        raise StudioError(f"Port {port} is not a port number; pick one between 1024 and 65535.")
    key = read_api_key(api_key_file or None, host)  # the same sentence as the command line
    served_id = model_id(source_of(str(model), base))  # a missing run is a sentence now, not in the log
    command = [sys.executable, "-m", "studio", "serve", str(model), "--port", str(int(port)), "--host", host,
               "--base", base]
    if api_key_file:
        command += ["--api-key-file", str(api_key_file)]
    _folder().mkdir(parents=True, exist_ok=True)
    with log_file().open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # connect to an any-address server locally
    record = {"pid": proc.pid, "model": str(model), "id": served_id, "url": f"http://{shown}:{int(port)}/v1",
              "host": host,
              "port": int(port), "key": key is not None, "started": time.time()}
    _state_file().write_text(json.dumps(record), encoding="utf-8")
    return record


def wait_ready(timeout: float = 300.0, poll: float = 0.5) -> dict:
    """Wait until the server answers; a server that exits first is its own error sentence."""
    deadline = time.monotonic() + timeout
    while (current := status())["state"] == "loading" and time.monotonic() < deadline:
        time.sleep(poll)
    if current["state"] == "stopped":
        raise StudioError(current.get("message") or "The server stopped while loading; see its log.")
    return current


def stop(timeout: float = 15.0) -> bool:
    """Stop the recorded server (SIGTERM, then SIGKILL after ``timeout``); False when none ran."""
    current = status()
    if current["state"] == "stopped":
        return False
    pid = int(current["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
        _reap(pid)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
    _state_file().unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status, so it does not linger as a zombie that still looks alive."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
