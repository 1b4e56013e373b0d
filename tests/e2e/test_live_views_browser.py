"""Every view of a run shows the same run, whatever tab started it (issue 33, item 3): a tiny run started
from Train's Start, then trained further from the Runs tab. The run page follows it with no click, and
at the end the Train tab's picker, line and bar agree (the bar full), its charts are drawn, and Chat's side
picker offers the finished run."""

from __future__ import annotations

import re

import pytest
from test_app_browser import curve_points, fill, logged, open_tab, shot, state, wait_until

pytestmark = pytest.mark.browser
NAME = "tiny-live-views"


def bar_fraction(page, container: str) -> float:
    """How full the bar is as drawn (its fill's width over the bar's), not as its style says (the fill
    slides to its width in 0.6 s: a check waits for it)."""
    return page.evaluate(
        """(id) => { const bar = document.querySelector('#' + id + ' .bar');
             const fill = document.querySelector('#' + id + ' .fill');
             if (!bar || !fill || !bar.getBoundingClientRect().width) return -1;
             return fill.getBoundingClientRect().width / bar.getBoundingClientRect().width; }""", container)


def picker_label(page) -> str:
    return page.locator("#run-shown input").input_value()


def test_a_run_started_in_train_and_resumed_in_runs_shows_the_same_everywhere(page, tiny_model_dir):
    open_tab(page, "1 · Model")
    fill(page, "cfg-model-name", tiny_model_dir)
    open_tab(page, "3 · Train")
    fill(page, "cfg-training-max_steps", 3)
    fill(page, "cfg-training-batch_size", 2)
    fill(page, "cfg-output-name", NAME)
    page.locator("#train-start").click()
    _train_tab_shows_completed(page, 3, wait_s=180)

    # Trained further from its page: the page follows the run to its end by itself (no Refresh), bar full.
    open_tab(page, "Runs")
    wait_until(page, lambda: NAME in page.locator("#runs-page-run input").input_value(), 60,
               "the page's run")
    wait_until(page, lambda: state(page, "runs-page-progress") == "completed", 30, "the page's progress line")
    fill(page, "runs-page-resume-changes", "training.max_steps=5")
    page.locator("#runs-page-resume").click()
    wait_until(page, lambda: state(page, "runs-page-progress") in ("queued", "running"), 15,
               "the run page to show the resumed run")
    wait_until(page, lambda: state(page, "runs-page-progress") == "completed", 180,
               "the run page to follow the resumed run to its end")
    assert "Step 5 / 5" in page.locator("#runs-page-progress .line").inner_text()
    wait_until(page, lambda: bar_fraction(page, "runs-page-progress") > 0.99, 5, "the page's bar to be full")
    assert re.search(r": completed, step 5/5", page.locator("#runs-page").inner_text())
    shot(page, "live-runs-page")

    # The Train tab, hidden while the run trained again: picker, line and bar agree, the charts are drawn.
    open_tab(page, "3 · Train")
    _train_tab_shows_completed(page, 5, wait_s=15)
    shot(page, "live-train-tab")

    open_tab(page, "Arena")
    wait_until(page, lambda: NAME in page.locator("#chat-model-a input").input_value(), 15,
               "Chat's side 1 to default to the finished run")


def _train_tab_shows_completed(page, steps: int, wait_s: float) -> None:
    wait_until(page, lambda: "· completed ·" in picker_label(page) and state(page) == "completed", wait_s,
               "the Train tab to show the run completed")
    assert NAME in picker_label(page)
    assert f"Step {steps} / {steps}" in page.locator("#run-progress .line").inner_text()
    wait_until(page, lambda: bar_fraction(page, "run-progress") > 0.99, 5, "the Train tab's bar to be full")
    wait_until(page, lambda: logged(page, "run-progress") == steps and curve_points(page, "loss-plot")
               and curve_points(page, "method-chart-1"), 15, "the Train tab's charts to be drawn")
