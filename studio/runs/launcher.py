"""Launching a run's training processes through `accelerate launch`: one machine or several nodes.

The supervising worker (studio.runs.worker) writes accelerate's config into the run folder and starts
`accelerate launch` (torchrun underneath) on it; with `distributed.nodes` > 1 each node does the same
with its own rank and meets the others at `distributed.main` (static rendezvous). A Slurm task learns
its rank and the main node only when the job starts, from the environment (STUDIO_NODE_RANK,
STUDIO_MAIN), which studio.cluster.slurm's script sets.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from studio.runs import files, ranks
from studio.runs.ranks import end_of_ranks
from studio.safety.atomic import write_text

ACCELERATE_CONFIG = "accelerate_config.yaml"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# set per node by a Slurm job (studio.cluster.slurm)
NODE_RANK_ENV, MAIN_ENV = "STUDIO_NODE_RANK", "STUDIO_MAIN"


def node_settings(cfg) -> tuple[int, int, str]:
    """(nodes, this node's rank, main HOST:PORT): the recipe's distributed.*, where a Slurm task's
    environment may name the rank and the main node it only learns when the job starts."""
    d = cfg.distributed
    rank = os.environ.get(NODE_RANK_ENV, "")
    return d.nodes, int(rank) if rank.isdigit() else d.node_rank, os.environ.get(MAIN_ENV) or d.main


def accelerate_config(processes: int, port: int, nodes: int = 1, node_rank: int = 0,
                      main_host: str = "127.0.0.1") -> str:
    """accelerate's own config file for one machine, written into the run folder for all to read.

    MULTI_GPU is accelerate's torchrun launcher; on a CPU the trainer's use_cpu makes each process
    join with gloo (accelerate's MULTI_CPU launcher would need mpirun, and its --cpu flag starts one
    process). ``processes`` is per node; with several nodes torchrun meets the others at the main node
    (static rendezvous). Precision and FSDP are set by the trainer's own arguments, so the file says
    `mixed_precision: 'no'`.
    """
    import yaml

    return yaml.safe_dump({
        "compute_environment": "LOCAL_MACHINE", "distributed_type": "MULTI_GPU",
        "num_processes": processes * nodes,
        "num_machines": nodes, "machine_rank": node_rank, "main_process_ip": main_host,
        "main_process_port": port,
        "rdzv_backend": "static", "same_network": True, "mixed_precision": "no", "use_cpu": False,
        "gpu_ids": "all",
    }, sort_keys=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:  # another run or test may use accelerate's default 29500
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def supervise_accelerate(run_dir: Path, processes: int, cfg=None) -> int:
    """Train in several processes through `accelerate launch`; this process keeps the locks and the last
    word."""
    nodes, rank, main = node_settings(cfg) if cfg is not None else (1, 0, "")
    host, _, port = main.rpartition(":")
    config_path = run_dir / (ACCELERATE_CONFIG if nodes == 1 else f"accelerate_config.node{rank}.yaml")
    write_text(config_path, accelerate_config(processes, int(port) if nodes > 1 else free_port(), nodes, rank,
                                              host if nodes > 1 else "127.0.0.1"))
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_path),
           "--module", "studio.runs.worker", str(run_dir)]
    shown = " ".join(shlex.quote(part) for part in cmd)
    where = f" on node {rank} of {nodes}" if nodes > 1 else ""
    print(f"[studio] {processes} processes{where}: {shown}", file=sys.stderr, flush=True)
    files.update_status(run_dir, state="running", pid=os.getpid(),
                        pid_start=files.process_start_time(os.getpid()),
                        command=shown, message=f"Starting {processes} training processes{where}...")
    ranks.clear(run_dir)  # the sentences of an earlier attempt of this run
    env = dict(os.environ)
    if nodes > 1 and host in LOOPBACK:  # gloo may take 127.0.1.1 from the hostname and never meet the others
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    code = subprocess.call(cmd, stdin=subprocess.DEVNULL, env=env, preexec_fn=end_with_parent(signal.SIGTERM))
    end_of_ranks(run_dir, code)
    if code == 0 and rank > 0:  # rank 0 (on node 0) writes the run's ending; this node's folder gets its own
        files.update_status(run_dir, only_if=files.LIVE_STATES, state="completed", eta_s=None,
                            finished=time.time(),
                            message=f"Node {rank} of {nodes} trained its share; node 0's run folder holds "
                                    "the "
                                    "adapter and the metrics.")
    return code


def end_with_parent(signum: int):
    """For a child's process, before exec: send it ``signum`` when this supervisor dies (SIGKILL
    included), so that nothing trains on in a folder whose run is already marked failed."""
    def arrange() -> None:
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signum)  # PR_SET_PDEATHSIG (Linux)
        except (OSError, AttributeError):
            pass
    return arrange
