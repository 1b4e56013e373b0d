"""CPU the app and its browser tab take while nothing happens: what they take from a training beside them.

Starts the app (its own empty studio home), measures the app process alone, then with a headless chromium
tab open on the Train tab, and prints each as a share of one core. Before the idle timers rested and the
event queue polled calmly (2026-12-03, this machine): app alone 9.5%; with the Train tab open, app 13.7-17.3%
and chromium 33.5-39.1%.

    python bench/ui_idle.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT), str(ROOT / "tests")]  # e2e first: its conftest
# The browser tests' own way to start the app and chromium (their session fixtures use the same).
from conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_http


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
    return total


def share(pids_of, seconds: float) -> float:
    before, started = cpu_seconds(pids_of()), time.time()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pids_of()) - before) / (time.time() - started)


def chromium_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "chromium"], check=False, capture_output=True,
                           text=True).stdout.split()
    return [int(pid) for pid in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ui-idle-"))
    port = _free_port()
    env = {**os.environ, "STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = home / "app.log"
    with log.open("wb") as out:
        app = subprocess.Popen([sys.executable, "launch.py", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, app, log, timeout=180)
        time.sleep(5)
        print(f"app alone:            app {share(lambda: [app.pid], args.seconds):5.1f}% of a core")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#demo-button", timeout=60_000)
            page.get_by_role("tab", name="3 · Train").click()
            time.sleep(5)
            app_share = share(lambda: [app.pid], args.seconds / 2)
            browser_share = share(chromium_pids, args.seconds / 2)
            print(f"Train tab open:       app {app_share:5.1f}%, chromium {browser_share:5.1f}% of a core")
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)


if __name__ == "__main__":
    main()
