"""Sweeps: a recipe's sweep section trains one real run per setting, survives its controller being killed,
and names as best the trial whose own run folder holds the best figure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_runs import no_stray_workers, wait_for  # noqa: F401 - fixture

from studio import runs
from studio.config import ConfigError, RunConfig
from studio.sweeps.metric import read_metric
from studio.sweeps.plan import plan_sweep
from studio.sweeps.spec import load_spec
from studio.sweeps.study import load_result, run_sweep

ROOT = Path(__file__).resolve().parent.parent
RATES = [1e-4, 3e-2, 1e-3]


def sweep_recipe(tmp_path, model_dir, data_file, **section) -> Path:
    recipe = {
        "method": "sft", "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml", "eval_fraction": 0.25},
        "lora": {"r": 4, "alpha": 8},
        "training": {"max_steps": 2, "batch_size": 2, "max_length": 64, "save_steps": 2, "eval_steps": 2,
                     "seed": 7},
        "sweep": {"name": "rates", "grid": {"training.learning_rate": RATES}, **section},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


def test_sweep_section_is_checked_before_anything_starts(tmp_path, tiny_model_dir, sft_file):
    spec = load_spec(sweep_recipe(tmp_path, tiny_model_dir, sft_file))
    assert spec.total() == 3 and spec.direction == "minimize" and spec.metric == "eval_loss"
    assert [p["training.learning_rate"] for p in spec.points()] == RATES
    together = load_spec(sweep_recipe(tmp_path, tiny_model_dir, sft_file, grid={"lora.r": [4, 8]},
                                      together=[{"training.learning_rate": 1e-3, "lora.alpha": 8},
                                                {"training.learning_rate": 1e-2, "lora.alpha": 16}]))
    assert together.total() == 4 and {"lora.r", "training.learning_rate",
                                      "lora.alpha"} == set(together.points()[0])
    bad = [({"grid": {"training.nope": [1]}}, "no recipe option"),
           ({"grid": {"training.learning_rate": [-1.0]}}, "Learning rate must be above 0"),
           ({"metric": "heldout_accuracy"}, "sweep.pairs"),
           ({"metric": "perplexity_x_wins", "direction": "sideways"}, "maximize or minimize"),
           ({"search": {"training.learning_rate": {"low": 1e-3, "high": 1e-4}}, "grid": {}, "trials": 3},
            "low below high"),
           ({"search": {"training.learning_rate": {"low": 1e-5, "high": 1e-3}}, "grid": {}}, "sweep.trials")]
    for section, words in bad:
        with pytest.raises(ConfigError, match=words):
            load_spec(sweep_recipe(tmp_path, tiny_model_dir, sft_file, **section))
    # `studio train` on a sweep recipe trains its base recipe once.
    assert RunConfig.from_yaml(sweep_recipe(tmp_path, tiny_model_dir, sft_file)).training.max_steps == 2
    plan = plan_sweep(spec)
    assert plan.runs == 3 and plan.at_once == 1 and plan.memory_gib > 0
    assert "3 runs" in plan.sentence()


def _trials_started(home: Path) -> int:
    return sum(1 for s in home.glob("runs/*/status.json") if json.loads(s.read_text()).get("sweep") ==
    "rates")


def test_grid_sweep_resumes_after_its_controller_is_killed_and_picks_the_best(
        tmp_path, tiny_model_dir, sft_file, studio_home):
    recipe = sweep_recipe(tmp_path, tiny_model_dir, sft_file)
    cmd = [sys.executable, "-m", "studio", "sweep", str(recipe), "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    controller = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for(lambda: _trials_started(studio_home) >= 1, timeout=120, every=0.2)
    controller.send_signal(signal.SIGKILL)  # mid-sweep: its first trial trains on, detached
    controller.wait()
    assert _trials_started(studio_home) < 3
    result = run_sweep(load_spec(recipe), poll_s=0.3)  # started again (here, in-process): it goes on
    assert result["metric"] == "eval_loss" and result["direction"] == "minimize"
    trials = result["trials"]
    # none twice, none lost
    assert sorted(t["params"]["training.learning_rate"] for t in trials) == sorted(RATES)
    assert len({t["run"] for t in trials}) == 3 and all(t["state"] == "complete" for t in trials)
    own = {}
    for t in trials:
        info = runs.get_run(t["run"])
        status = runs.read_status(info.dir)
        assert info.state == "completed" and status["sweep"] == "rates" and status["trial"] == t["number"]
        own[t["run"]] = json.loads((info.dir / "best.json").read_text())["value"]
        assert t["metric"] == pytest.approx(own[t["run"]]) == read_metric(info.dir, "eval_loss")
        assert t["seconds"] > 0 and t["peak_memory_gib"] > 0
    assert result["best"] == min(own, key=own.get) == load_result("rates")["best"]
    assert len(set(own.values())) == 3  # the settings really differ in their outcome
