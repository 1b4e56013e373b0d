"""Two training processes on the CPU for every method whose trainer prepares something before training
(issue 37): DPO with its reference precomputed (the shipped pineapple-dpo recipe, its own settings), the
reward model, KTO, ORPO, SimPO and RL against the reward model just trained, each from its shipped recipe
on the tiny model. They share one `accelerate launch` (tests/ranks_train_runs.py), as they would share two
GPUs one run after another: its imports and its process group are the costly part on 2 cores."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from test_runs_files import queued_run

from studio import runs
from studio.config import RunConfig
from studio.runs import worker
from studio.training.shared_data import SHARED_DATA_DIR

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "presets" / "recipes"
# (recipe, its overrides besides the tiny model and the two processes): one or two steps.
RUNS = [
    ("pineapple-dpo.yaml", ["training.max_steps=2"]),
    ("pineapple-reward.yaml", ["training.max_steps=1"]),
    ("pineapple-kto.yaml", ["training.max_steps=1"]),
    ("pineapple-orpo.yaml", ["training.max_steps=1"]),
    ("pineapple-simpo.yaml", ["training.max_steps=1"]),
    ("pineapple-rlhf.yaml", ["training.max_steps=1"]),
    # Without held-out rows DPO uses the token cache: the second run's rows come from it, on disk already,
    # and TRL's reference pass writes its file into the cache entry, which both processes read.
    *[("pineapple-dpo.yaml", ["training.max_steps=1", "data.eval_source=", f"output.name=dpo-cache-{i}"])
      for i in (1, 2)],
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_every_preparing_method_trains_in_two_processes(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # recipes name their data relative to the studio's folder, as the README runs
    infos = []
    for recipe, overrides in RUNS:
        tiny = [f"model.name={tiny_model_dir}", "distributed.processes=2", *overrides]
        cfg = RunConfig.from_yaml(RECIPES / recipe, tiny)
        infos.append(queued_run(cfg))
    assert infos[0].method == "dpo" and RunConfig.from_yaml(infos[0].dir / "config.yaml").dpo.precompute_ref
    config = tmp_path / "accelerate_config.yaml"
    config.write_text(worker.accelerate_config(2, _free_port()), encoding="utf-8")
    launch = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
         str(ROOT / "tests" / "ranks_train_runs.py"), *(str(info.dir) for info in infos)],
        check=False, capture_output=True, text=True, timeout=400, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    said = launch.stdout + launch.stderr
    for info in infos:
        status = runs.read_status(info.dir)
        assert status["state"] == "completed", (info.name, status["message"], said[-4000:])
        summary = json.loads((info.dir / "summary.json").read_text())
        assert summary["processes"] == 2 and summary["global_step"] == summary["max_steps"], summary
        assert (info.dir / "adapter" / "adapter_model.safetensors").is_file()
        assert not (info.dir / SHARED_DATA_DIR).exists()  # the data both processes read is gone with the run
    assert launch.returncode == 0, said[-4000:]
    # The reference pass ran once for both processes, over the training and the held-out rows.
    assert "Computing reference log probs for train dataset" in said
    rl_config = RunConfig.from_yaml(infos[5].dir / "config.yaml")
    assert rl_config.rl.reward_model == "pineapple-reward"  # the reward run trained above, in two processes
    cached = [json.loads((info.dir / "summary.json").read_text())["data_cached"] for info in infos[-2:]]
    assert cached == [False, True]
