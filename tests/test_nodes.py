"""Several nodes, proven on one host: two `studio train --nodes 2` launchers on 127.0.0.1 (ranks 0 and 1, a
free port, gloo on the loopback interface) train the same steps as two processes on one node, with the same
loss; and the sentences for node settings that cannot work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_runs import final, no_stray_workers, run_config  # noqa: F401 - fixture

from studio import runs
from studio.cluster.commands import node_commands
from studio.config import ConfigError
from studio.runs.launcher import accelerate_config, free_port

ROOT = Path(__file__).resolve().parent.parent


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in runs.read_metrics(run_dir) if "loss" in r]


def test_node_settings_are_checked_and_the_commands_shown(tiny_model_dir, sft_file):
    cfg = run_config(tiny_model_dir, sft_file, name="n", steps=2, save_steps=2)
    cfg.distributed.nodes = 2
    with pytest.raises(ConfigError, match="HOST:PORT"):
        cfg.validate()
    cfg.distributed.main, cfg.distributed.node_rank = "10.0.0.1:29500", 2
    with pytest.raises(ConfigError, match="from 0 to nodes - 1"):
        cfg.validate()
    text = yaml.safe_load(accelerate_config(1, 29500, nodes=2, node_rank=1, main_host="10.0.0.1"))
    assert (text["num_processes"], text["num_machines"], text["machine_rank"]) == (2, 2, 1)
    assert text["rdzv_backend"] == "static" and text["main_process_ip"] == "10.0.0.1"
    assert node_commands("r.yaml", 2, "10.0.0.1:29500")[1] == \
        "studio train r.yaml --nodes 2 --node-rank 1 --main 10.0.0.1:29500"


def test_two_nodes_on_one_host_match_two_processes_on_one_node(tiny_model_dir, sft_file, tmp_path):
    cfg = run_config(tiny_model_dir, sft_file, name="one-node", steps=2, save_steps=2)
    cfg.distributed.processes = 2
    one_node = runs.start_run(cfg)

    recipe = tmp_path / "recipe.yaml"
    cfg.distributed.processes, cfg.output.name = 0, "two-nodes"
    cfg.save(recipe)
    main = f"127.0.0.1:{free_port()}"
    nodes = []
    for rank in (0, 1):  # two "hosts": each its own studio home, as two machines would have
        env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_HOME": str(tmp_path / f"host{rank}")}
        nodes.append(subprocess.Popen(
            [sys.executable, "-m", "studio", "train", str(recipe), "--nodes", "2", "--node-rank", str(rank),
             "--main", main], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [node.communicate(timeout=400) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-3000:] for _, err in outputs]
    node0, node1 = (Path(out.strip().splitlines()[-1]) for out, _ in outputs)

    reference = final(one_node.id, timeout=400)
    assert reference.state == "completed", reference.message
    config0 = yaml.safe_load((node0 / "accelerate_config.node0.yaml").read_text())
    assert (config0["num_machines"], config0["machine_rank"], config0["num_processes"]) == (2, 0, 2)
    assert "accelerate.commands.launch --config_file" in runs.read_status(node0)["command"]
    assert json.loads((node0 / "summary.json").read_text())["processes"] == 2
    assert len(losses(node0)) == len(losses(reference.dir)) == 2
    assert losses(node0) == pytest.approx(losses(reference.dir), rel=1e-4)
    assert (node0 / "adapter" / "adapter_model.safetensors").is_file()
    assert not (node1 / "adapter").exists() and runs.read_status(node1)["state"] == "completed"
    assert "Node 1 of 2" in runs.read_status(node1)["message"]
