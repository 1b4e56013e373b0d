"""The Sweep view in the browser: a real two-trial sweep (the terminal's `studio sweep`, in the app's home)
shows as a table with the best marked, and "use the best" makes Chat and Export start from that run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_app_browser import fill, open_tab, shot, wait_until

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_sweep_view_marks_the_best_and_uses_it(page, app_home, tiny_model_dir, sft_file, tmp_path):
    recipe = tmp_path / "sweep.yaml"
    recipe.write_text(yaml.safe_dump({
        "method": "sft", "model": {"name": str(tiny_model_dir)},
        "data": {"source": str(sft_file), "template": "chatml"}, "lora": {"r": 4, "alpha": 8},
        "training": {"max_steps": 2, "batch_size": 2, "max_length": 64, "save_steps": 2, "seed": 7},
        "sweep": {"name": "browser-rates", "metric": "train_loss",
                  "grid": {"training.learning_rate": [5e-2, 1e-4]}},
    }))
    env = {**os.environ, "STUDIO_HOME": str(app_home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "studio", "sweep", str(recipe), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    best = result["best"]
    # the larger rate learns more in 2 steps: the best is not the newest run
    assert best == result["trials"][0]["run"]

    open_tab(page, "3 · Train")
    page.locator("#sweep-view").get_by_text("Sweep", exact=True).first.click()
    table = page.locator("#sweep-table")
    wait_until(page, lambda: best in table.inner_text() and "★" in table.inner_text(), 30, "the trials table")
    # row by row, "best" first, "run" last
    cells = [c.strip() for c in table.inner_text().splitlines() if c.strip()]
    runs = [c for c in cells if "browser-rates-" in c]
    assert len(runs) == 2 and cells.count("★") == 1
    assert next(c for c in cells[cells.index("★"):] if "browser-rates-" in c) == best
    assert "training.learning_rate" in page.locator("#sweep-settings").inner_text()
    shot(page, "sweep-view")
    page.locator("#sweep-use-best").click()
    wait_until(page, lambda: best in page.locator("#sweep-note").inner_text(), 20, "the use-the-best note")
    assert json.loads((Path(app_home) / "chosen_run.json").read_text())["run"] == best
    open_tab(page, "Export and push")
    wait_until(page, lambda: best in page.locator("#export-run").inner_text()
               or best in page.locator("#export-run input").input_value(), 20,
               "Export to start from the best")
    open_tab(page, "Arena")
    name = best.split("-", 2)[2]  # "browser-rates-N": the picker shows run names (the id is STAMP-NAME)
    wait_until(page, lambda: page.locator("#chat-model-a input").input_value().startswith(f"{name} ·"), 30,
               "Chat to start from the best")

    open_tab(page, "3 · Train")  # the cluster section writes each node's command from the same fields
    page.locator("#cluster-view").get_by_text("Cluster: several nodes or Slurm").first.click()
    commands = page.locator("#cluster-commands")
    wait_until(page, lambda: "--node-rank 1 --main 10.0.0.1:29500" in commands.inner_text(), 20,
               "node commands")
    fill(page, "cfg-distributed-nodes", 3)
    wait_until(page, lambda: "--nodes 3 --node-rank 2" in commands.inner_text(), 20, "a third node's command")
