"""The spare trainer's own process (``python -P -m studio.runs.spare_process SOCKET``): it imports the
training stack once, then forks one trainer per supervisor's request (studio.runs.spare_trainer says why)
and tells each supervisor how its trainer ended. It exits after IDLE_S with no request and no trainer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from studio.runs.spare_trainer import ANSWER_TIMEOUT_S, HEADER, IDLE_S, MODULE


def serve(path: Path) -> int:
    """Import the training stack, then fork a trainer per request until IDLE_S pass with nothing to do."""
    lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0  # another spare serves this environment (or is importing to)
    os.ftruncate(lock, 0)
    os.write(lock, str(os.getpid()).encode())  # for stop_all()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # through the finally below: the socket goes
    _warm()
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a spare that was killed: the lock says none is alive
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    print(f"[studio] spare trainer {os.getpid()} ready at {path}", file=sys.stderr, flush=True)
    served: list[int] = []  # trainer pids, kept through a SIGTERM's exit
    try:
        _serve_requests(server, served)
    finally:
        server.close()
        path.unlink(missing_ok=True)
        used = os.times()
        own, trainers = used.user + used.system, used.children_user + used.children_system
        print(f"[studio] spare trainer {os.getpid()} ends: {len(served)} trainers forked; "
              f"CPU {own:.1f} s its own, {trainers:.1f} s its trainers'", file=sys.stderr, flush=True)
    return 0


def _serve_requests(server: socket.socket, served: list[int]) -> None:
    supervisors: dict[int, socket.socket] = {}  # trainer pid -> its supervisor's connection
    watched: dict[socket.socket, int] = {}  # connections whose hang-up ends their trainer
    idle_since = time.monotonic()
    while supervisors or time.monotonic() - idle_since < IDLE_S:
        readable = select.select([server, *watched], [], [], 0.2)[0]
        for conn in readable:
            if conn is server:
                pid = _answer(server, supervisors)
                if pid:
                    watched[supervisors[pid]] = pid
                    served.append(pid)
                idle_since = time.monotonic()
            elif not _peek(conn):  # the supervisor died: so does its trainer, as with PR_SET_PDEATHSIG
                with contextlib.suppress(OSError):
                    os.kill(watched.pop(conn), signal.SIGKILL)
        for pid in _reap(supervisors):
            watched = {c: p for c, p in watched.items() if p != pid}
            idle_since = time.monotonic()


def _warm() -> None:
    """What every trainer imports (studio.training.train pulls the stack in), then the studio's own modules
    let go, so that each trainer imports the studio's files as they are now."""
    import studio.training.callbacks
    import studio.training.train  # noqa: F401

    for name in [m for m in sys.modules if m.startswith("studio.") and m != "studio.eager_bitsandbytes"]:
        del sys.modules[name]


def _peek(conn: socket.socket) -> bool:
    try:
        return bool(conn.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def _answer(server: socket.socket, supervisors: dict[int, socket.socket]) -> int | None:
    conn, _ = server.accept()
    fds: list[int] = []
    try:
        _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        if uid != os.getuid():
            raise OSError("a request from another user")
        conn.settimeout(ANSWER_TIMEOUT_S)
        header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
        if not header:  # connected and hung up: a check that a spare answers
            conn.close()
            return None
        size = HEADER.unpack(header)[0]
        body = b""
        while len(body) < size:
            chunk = conn.recv(size - len(body))
            if not chunk:
                raise OSError("the request was cut short")
            body += chunk
        request = json.loads(body)
        if len(fds) != 3:
            raise OSError("the request came without its three streams")
        sys.stdout.flush()
        sys.stderr.flush()
        spare = os.getpid()
        pid = os.fork()
        if pid == 0:
            _become_trainer(request, fds, spare, [server, conn, *supervisors.values()])
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        conn.settimeout(None)
        supervisors[pid] = conn
        return pid
    except (OSError, ValueError, KeyError, struct.error) as exc:  # one bad request must not end the spare
        print(f"[studio] spare trainer: refused a request ({exc!r})", file=sys.stderr, flush=True)
        conn.close()
        return None
    finally:
        for fd in fds:
            os.close(fd)


def _reap(supervisors: dict[int, socket.socket]) -> list[int]:
    ended = []
    while supervisors:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        conn = supervisors.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            conn.close()
        ended.append(pid)
    return ended


def _become_trainer(request: dict, fds: list[int], spare: int, sockets: list[socket.socket]) -> None:
    """In the forked child: the supervisor's streams, folder and environment, then the worker's main."""
    code = 1
    try:
        for sock in sockets:
            sock.close()
        os.setpgid(0, 0)  # a Ctrl-C in the spare's terminal is not this run's
        _die_with(spare)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [MODULE, *request["argv"]]
        from studio.runs import worker

        code = worker.main(list(request["argv"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the spare's loop
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()  # what a process's normal exit runs (TensorBoard writers, ...)
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def _die_with(parent: int) -> None:
    """SIGKILL this trainer when the spare dies: its supervisor could not learn how it ended otherwise."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


if __name__ == "__main__":
    sys.exit(serve(Path(sys.argv[1])))
