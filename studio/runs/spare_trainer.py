"""A spare training process with the libraries imported, from which each run's trainer is forked.

A trainer started cold spends 6-7 s of CPU importing torch, transformers, PEFT, TRL and datasets before
its first step (97% of it third-party), on every Start, resume and sweep trial: a tiny run takes 11.3 s
from Start to completed cold and 4.1 s forked (`python bench/spare_trainer.py`). The first supervising
worker (studio.runs.worker) that finds no spare starts one, detached, and trains its own run cold; the
spare imports the stack once and then forks one trainer per request in milliseconds, the imported pages
shared copy-on-write. The supervisor's part is unchanged: it waits for its trainer through the spare's
socket as it waits for a child (exit status, signal, memory), and the trainer is SIGKILLed when its
supervisor dies, as before.

One spare per user, interpreter, project folder and the environment variables that libraries read as
they are imported (HF_*, TORCH*, OMP_*, PYTHON*...): a run whose environment differs gets a spare of its
own. The studio's own modules are imported afresh in each trainer, so an edited file is never stale. Off
where a GPU device file exists (CUDA must not be initialised before a fork, and a library may touch it
as it is imported), off with STUDIO_SPARE_TRAINER=0, and Linux only. A process in another cgroup, with
other cores or resource limits gets a spare of its own (a trainer is confined as its spare is), and none
is started where a cgroup rations memory to under MIN_MEMORY (the spare holds its pages while idle). A
spare exits after IDLE_S with no request and no trainer.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from studio.paths import PROJECT_ROOT
from studio.runs import endings

MODULE = "studio.runs.spare_process"  # the spare's command line: python -P -m MODULE SOCKET
SWITCH_ENV = "STUDIO_SPARE_TRAINER"
IDLE_S = 600.0
ANSWER_TIMEOUT_S = 30.0
# An idle spare holds ~0.4 GiB resident (torch and the rest imported): no spare where a cgroup (a Slurm
# job's, a container's) or the machine allows less than ten times that.
MIN_MEMORY = 4 * 2**30
# What libraries read from the environment as they are imported; a spare serves only an equal set.
IMPORT_TIME_ENV = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "DATASETS_", "TOKENIZERS_", "TORCH", "PYTORCH_",
                   "OMP_", "MKL_", "KMP_", "OPENBLAS_", "CUDA_", "NCCL_", "ACCELERATE_", "BNB_", "TRL_",
                   "PEFT_", "WANDB_", "TRITON_", "XDG_", "PYTHON", "LD_", "HOME", "TMPDIR")
HEADER = struct.Struct("!I")


def enabled(env: dict) -> bool:
    return (sys.platform == "linux" and env.get(SWITCH_ENV, "1") != "0"
            and not glob.glob("/dev/nvidia[0-9]*") and not os.path.exists("/dev/kfd"))


def socket_path(env: dict) -> Path | None:
    """Where the spare for ``env`` listens: a private folder of this user's, or None where it is not."""
    wanted = {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_ENV) and k != "PYTHONUNBUFFERED"}
    if "PYTHONPATH" in wanted:  # a worker's launch prepends the project folder, twice when nested: same path
        wanted["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(wanted["PYTHONPATH"].split(os.pathsep)))
    wanted = sorted(wanted.items())
    key = hashlib.sha256(json.dumps([sys.executable, str(PROJECT_ROOT), wanted, _confinement()]).encode())
    key = key.hexdigest()[:16]
    folder = Path(env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"studio-spares-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:  # someone else's folder: not ours to trust
        return None
    return folder / f"trainer-{key}.sock"


def _confinement() -> list:
    """What confines this process and a forked trainer would not inherit from it but from the spare: its
    cgroups (a Slurm job's, a memory limit), the cores it may run on, its resource limits, its niceness."""
    import resource

    try:
        cgroups = Path("/proc/self/cgroup").read_text()
    except OSError:
        cgroups = ""
    limits = [resource.getrlimit(getattr(resource, name)) for name in
              ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_CPU", "RLIMIT_NOFILE") if hasattr(resource, name)]
    return [cgroups, sorted(os.sched_getaffinity(0)), limits, os.nice(0)]


def _memory_is_rationed() -> bool:
    return endings.memory_limit() < MIN_MEMORY


class ForkedTrainer:
    """A trainer forked by the spare, as much of subprocess.Popen as a supervisor uses: pid, wait, poll,
    returncode (negative: the signal that ended it). The spare sends the status when the trainer ends."""

    def __init__(self, conn: socket.socket, pid: int):
        self.conn, self.pid, self.returncode = conn, pid, None

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.wait(timeout=0)
        return None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is not None:
            return self.returncode
        if not select.select([self.conn], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(MODULE, timeout)
        try:
            answer = _read_line(self.conn)
            self.returncode = int(json.loads(answer)["returncode"])
        except (OSError, ValueError, KeyError):  # the spare is gone, and its trainers with it
            self.returncode = -signal.SIGKILL
        self.conn.close()
        return self.returncode


def fork_trainer(argv: list[str], env: dict, cwd: str) -> ForkedTrainer | None:
    """The trainer for ``argv`` (the worker module's arguments) forked by the spare for ``env``, or None
    when there is none ready: then a spare is started for the next run and this one starts cold."""
    path = socket_path(env) if enabled(env) else None
    if path is None:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(ANSWER_TIMEOUT_S)
        conn.connect(str(path))
    except OSError:
        conn.close()
        if not _memory_is_rationed():
            _start_spare(path, env)
        return None
    try:
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode()
        socket.send_fds(conn, [HEADER.pack(len(request))], [0, 1, 2])  # its stdin, stdout, stderr: ours
        conn.sendall(request)
        pid = int(json.loads(_read_line(conn))["pid"])
    except (OSError, ValueError, KeyError):
        conn.close()  # the spare ends a trainer whose supervisor hung up
        return None
    conn.settimeout(None)
    return ForkedTrainer(conn, pid)


def stop_all() -> list[int]:
    """End this project folder's spares (and any trainer they forked, with them): the pids signalled."""
    folder = socket_path(dict(os.environ))
    ended = []
    for lock in folder.parent.glob("trainer-*.lock") if folder else []:
        try:
            pid = int(lock.read_text() or 0)
            if (pid and MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
                    and os.readlink(f"/proc/{pid}/cwd") == str(PROJECT_ROOT)):
                os.kill(pid, signal.SIGTERM)
                ended.append(pid)
        except (OSError, ValueError):
            continue
    return ended


def _start_spare(path: Path, env: dict) -> None:
    # Unbuffered: each trainer writes through the spare's stdout object into its run's log, read live.
    spare_env = {**{k: v for k, v in env.items() if not k.startswith("STUDIO_")}, "PYTHONUNBUFFERED": "1"}
    try:
        with open(path.with_suffix(".log"), "ab", opener=lambda p, f: os.open(p, f, 0o600)) as log:
            subprocess.Popen([sys.executable, "-P", "-m", MODULE, str(path)], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=spare_env,
                             cwd=str(PROJECT_ROOT))
    except OSError:
        pass  # no spare: every run starts cold, as it always could


def _read_line(conn: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            raise OSError("the spare trainer closed the connection")
        data += chunk
    return data.decode()
