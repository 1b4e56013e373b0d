"""The teacher's demo in the browser: one click trains DPO (on the tiny model: the app's STUDIO_DEMO_MODEL,
set
in tests/e2e/conftest.py), its curve grows, the answers before and after differ, the held-out table shows,
Chat
offers the run and Export saves it. The built-in model's demo is trained and timed by bench/dpo_demo.py."""

from __future__ import annotations

import re
import time

import pytest
from test_app_browser import (
    SHOTS,
    chat_turn,
    curve_points,
    logged,
    open_chat_settings,
    open_tab,
    shot,
    wait_until,
)

pytestmark = pytest.mark.browser


def test_pineapple_demo_end_to_end(page):
    """One click: training with a growing curve, then before/after answers that differ, then the table."""
    started = time.time()
    page.locator("#demo-button").click()
    wait_until(page, lambda: page.get_by_role("tab", name="Pizza demo").get_attribute("aria-selected") ==
    "true",
               10, "the demo tab to open")
    # Generous limits: a CPU without bf16 units, one core per test worker, on a shared machine; they cost
    # nothing where the demo is quick.
    first = wait_until(page, lambda: logged(page, "demo-progress"), 600, "the first logged step")
    shot(page, "demo-training")
    drawn = wait_until(page, lambda: curve_points(page, "demo-loss"), 30, "the loss curve to be drawn")
    drawn_by = logged(page, "demo-progress")  # read after the curve: the curve had at most this many steps
    # The tiny model trains the 7 steps in about 2 s once its trainer is forked from the spare: the page,
    # polling each second, may first see step 5 of 7. It must then see three more steps, or the last one.
    total = int(re.search(r"/ (\d+)", page.locator("#demo-progress .line").first.inner_text()).group(1))
    wait_until(page, lambda: logged(page, "demo-progress") >= min(first + 3, total), 400,
               "three more logged steps (or the last)")
    if drawn_by < total:
        wait_until(page, lambda: curve_points(page, "demo-loss") > drawn, 30, "the drawn curve to grow")
    wait_until(page, lambda: page.locator("#demo-answers td.after").count() == 4
               and "Demo finished" in page.locator("#demo-status").inner_text(), 600,
               "the answers and evaluation")
    elapsed = time.time() - started
    befores = page.locator("#demo-answers td.before").all_inner_texts()
    afters = page.locator("#demo-answers td.after").all_inner_texts()
    assert all(b.strip() for b in befores) and all(a.strip() for a in afters)
    assert befores != afters, "DPO did not change any answer"
    assert "reward margin" in page.locator("#demo-explanation").inner_text()
    assert "accuracy" in page.locator("#demo-eval").inner_text().lower()
    shot(page, "tab-demo")
    # The Chat tab offers the finished run and answers one prompt both ways, streaming.
    open_tab(page, "Arena")
    wait_until(page, lambda: "pineapple-dpo" in page.locator("#chat-model-a input").input_value(), 20,
               "side 1 to default to the finished demo run")
    open_chat_settings(page, max_new_tokens=16)  # that both sides answer, streaming, is what is checked
    chat_turn(page, "Would a judge convict me for eating pineapple pizza?", 1)
    shot(page, "tab-chat")
    for name, slug in (("1 · Model", "model"), ("2 · Data", "data"), ("3 · Train", "train"),
                       ("Export and push", "export")):
        open_tab(page, name)
        page.wait_for_timeout(700)
        shot(page, f"tab-{slug}")
    # Export (the tab last shown): the finished run's adapter saves to the suggested folder.
    export_to = page.locator("#export-to textarea, #export-to input").first
    wait_until(page, lambda: "exports" in export_to.input_value(), 20, "the suggested export folder")
    page.locator("#export-save").click()
    wait_until(page, lambda: "Saved the adapter" in page.locator("#export-status").inner_text(), 120,
               "the adapter export")
    # How long it took is a figure, not a check (a shared machine's load decides it): bench/demo_phases.py
    # measures the demo phase by phase; this records what the test saw.
    (SHOTS / "demo-timing.txt").write_text(f"demo click to finished: {elapsed:.0f} s\n", encoding="utf-8")
