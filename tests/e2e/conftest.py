"""Browser tests: the real app in a subprocess, driven by headless Debian chromium through playwright.

Chromium comes from apt (`playwright install` cannot download here). A missing browser is a failure,
never a skip: CI installs chromium before the tests run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from stray_workers import kill_workers, live_workers

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"The app did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def _stop_active_runs(home: Path, grace_s: float = 30) -> None:
    """Stop every run this session started, so no worker outlives the tests: ask first (Stop), then, after
    a grace period, end the workers that are still there, by the pid their run folder names."""
    env = {**os.environ, "STUDIO_HOME": str(home)}
    code = ("from studio.runs import list_runs, stop_run\n"
            "for r in list_runs():\n"
            "    if r.state in ('queued', 'running'):\n"
            "        stop_run(r.id)\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, timeout=60, check=False)
    deadline = time.time() + grace_s
    while time.time() < deadline and live_workers(home):
        time.sleep(1)
    kill_workers(home)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="session")
def app_url(app_home, artifacts, tiny_model_dir):
    """One app for the whole session, with its own studio home; the converted model cache is shared. The
    pineapple demo trains the tiny model: its page's flow is what the browser checks (bench/dpo_demo.py and
    bench/demo_phases.py train and time the built-in model, minutes on a CPU without bf16 units)."""
    home = app_home
    port = _free_port()
    env = {**os.environ, "STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "STUDIO_DEMO_MODEL": str(tiny_model_dir),
           "STUDIO_MODEL_CACHE": os.environ.get("STUDIO_MODEL_CACHE",
                                                str(Path.home() / ".studio" / "models")),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    log = artifacts / "app.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "launch.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, proc, log)
        yield url
    finally:
        _stop_active_runs(home)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        for run_log in home.glob("runs/*/log.txt"):
            shutil.copyfile(run_log, artifacts / f"run-{run_log.parent.name}.log")


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), (f"chromium is missing at {CHROMIUM}: install it (apt-get install "
                                      "chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def no_run_outlives_its_test(app_home):
    """A test that fails halfway leaves its run training; the next test's run would queue behind it and
    time out, one failure becoming three. Whatever a test left training is ended when it ends."""
    yield
    kill_workers(app_home)  # at once: a graceful stop waits for a worker still importing torch


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(app_url)
    pg.wait_for_selector("#demo-button", timeout=60_000)
    yield pg
    context.close()
