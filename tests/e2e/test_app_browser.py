"""End-to-end: the real app in headless chromium. Screenshots go to test-artifacts/e2e/.

The real pineapple demo (minutes) is in test_demo_browser.py, a file of its own, so that the other test worker
takes these while it trains.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "e2e"


# ---- small helpers over Gradio's DOM --------------------------------------------------------------
# Each sub-tab under the top-level tab of its job (studio/ui/layout.py).
PARENT_TAB = {"1 · Model": "Make", "2 · Data": "Make", "3 · Train": "Make", "Arena": "Judge",
              "Leaderboard": "Judge", "Benchmarks": "Judge", "Score": "Judge", "Export and push": "Share",
              "Serve": "Share", "Merge": "Share", "Pizza demo": "Learn", "RLHF vs DPO": "Learn",
              "Judges": "Judge", "Classifier": "Judge", "Prompting vs fine-tuning": "Learn"}


def open_tab(page, name: str) -> None:
    """Open a tab by its English name, its job's top-level tab first."""
    for tab in (PARENT_TAB.get(name), name):
        if tab:
            page.get_by_role("tab", name=tab, exact=True).click(no_wait_after=True)
            page.wait_for_timeout(300)


def fill(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id}").locator("input, textarea").first
    box.fill(str(value))
    box.dispatch_event("change")
    box.blur()


def shot(page, name: str) -> None:
    """A picture for test-artifacts/, not a check: on a loaded CI machine a page redrawing a live run every
    second once took over 30 s to be shot, so it gets 90 s, and a picture that still cannot be taken is
    noted beside the others rather than failing what the test checks. (A page clock installed for every test,
    to stop it for each picture, broke the page's own timers: fills and tab switches were lost.)"""
    from playwright.sync_api import TimeoutError as PictureTimeout

    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, timeout=90_000)
    except PictureTimeout:
        with open(SHOTS / "pictures-not-taken.txt", "a", encoding="utf-8") as note:
            note.write(f"{name}: the page took over 90 s to be shot\n")


def press(page, elem_id: str) -> None:
    """Click a button on a page whose live views redraw every second: the click event itself, since
    playwright's click first waits for the button to stand still, and while a run trained the charts above it
    moved it for 12-40 s at a time on a loaded 2-core machine."""
    page.locator(f"#{elem_id}").dispatch_event("click")


def logged(page, container: str) -> int:
    # 10 s: Gradio replaces the HTML as it updates it, and on a loaded machine the new one can take seconds.
    text = page.locator(f"#{container} .studio-logged").first.inner_text(timeout=10_000)
    return int(text or 0)


def state(page, container: str = "run-progress") -> str:
    line = page.locator(f"#{container} .line").first.inner_text(timeout=10_000)
    match = re.search(r"state: (\w+)", line)
    return match.group(1) if match else ""


def wait_until(page, predicate, timeout: float, what: str, poll_ms: int = 500):
    deadline = time.time() + timeout
    last_error = None
    while time.time() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the element may be re-rendering
            last_error = exc
        page.wait_for_timeout(poll_ms)
    shot(page, "timeout-" + re.sub(r"\W+", "-", what)[:40])
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what} (last error: {last_error}).")


def start_tiny_run(page, tiny_model_dir, name: str, steps: int = 4000) -> None:
    """A DPO run of the tiny model on the shipped pairs, long enough to stop, resume and reload."""
    open_tab(page, "1 · Model")
    fill(page, "cfg-model-name", tiny_model_dir)
    open_tab(page, "3 · Train")
    fill(page, "cfg-training-max_steps", steps)
    fill(page, "cfg-training-batch_size", 2)
    fill(page, "cfg-output-name", name)
    page.locator("#train-start").click()
    wait_until(page, lambda: "started" in page.locator("#train-status").inner_text()
               or "queued" in page.locator("#train-status").inner_text(), 20, "the start confirmation")


def curve_points(page, plot_id: str) -> int:
    """How much line the Vega plot drew: the total length of its line marks' path data (grows with steps)."""
    return page.evaluate(
        """(id) => { const el = document.getElementById(id); if (!el) return 0;
             return [...el.querySelectorAll('.mark-line path')]
               .reduce((n, p) => n + (p.getAttribute('d') || '').length, 0); }""", plot_id)


def display_latency(page, home: Path, samples: int = 3) -> float:
    """Seconds between a step's metrics line being written and the page showing it: the best of a few
    steps, as one step can meet a moment when the other test worker holds both cores."""
    return min(_one_display_latency(page, home) for _ in range(samples))


def _logged_now(page) -> int | None:
    """The logged steps the page shows, or None while the progress line is being drawn again."""
    try:
        return logged(page, "run-progress")
    except Exception:  # noqa: BLE001 - playwright's timeout while Gradio replaces the element
        return None


def _one_display_latency(page, home: Path) -> float:
    shown = wait_until(page, lambda: _logged_now(page), 30, "the progress line", poll_ms=100)
    deadline = time.time() + 60
    while (now := _logged_now(page)) is None or now == shown:
        assert time.time() < deadline, "the page showed no new step for 60 s while the run trained"
        page.wait_for_timeout(100)
    seen_at = time.time()
    shown = now
    run_dir = max(home.glob("runs/*/metrics.jsonl"), key=lambda p: p.stat().st_mtime).parent
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if
    line.strip()]
    with_loss = [r for r in records if "loss" in r]
    return seen_at - with_loss[shown - 1]["time"]


def bot_messages(page, pane: str) -> list[str]:
    """The assistant messages a Chatbot pane shows, as text."""
    return page.locator(f"#{pane} [data-testid='bot']").all_inner_texts()


def open_chat_settings(page, max_new_tokens: int, separate_seed: int | None = None) -> None:
    page.locator("#chat-settings").get_by_text("Settings", exact=True).first.click()
    fill(page, "chat-max-new", max_new_tokens)
    if separate_seed is not None:  # the same model with the same seed would say the same thing twice
        page.locator("#chat-shared input").uncheck()
        fill(page, "chat-max-new-b", max_new_tokens)
        fill(page, "chat-temperature-b", 0.8)  # sampled, so the seed matters (greedy ignores it)
        fill(page, "chat-seed-b", separate_seed)


def chat_turn(page, text: str, answers: int, timeout: float = 240) -> None:
    """Type into the shared box, press Enter, and wait until both panes finished answering."""
    box = page.locator("#chat-input textarea")
    box.fill(text)
    box.press("Enter")
    wait_until(page, lambda: len(bot_messages(page, "chat-a")) == answers == len(bot_messages(page, "chat-b"))
               and "Which answer is better" in page.locator("#chat-status").inner_text(), timeout,
               f"both panes to show {answers} answers")


# ---- the tests -------------------------------------------------------------------------------------
def test_bad_data_file_lists_its_row_problems(page, tmp_path):
    bad = tmp_path / "bad_pairs.jsonl"
    rows = [{"prompt": "Is pineapple on pizza a crime?", "chosen": "No, it is a matter of taste.",
             "rejected": "Yes, under the Geneva Convention."},
            {"prompt": "A row without a rejected answer", "chosen": "No."},
            {"prompt": "Is pineapple on pizza a crime?", "chosen": "No.", "rejected": "Yes."}]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{this line is not json\n", encoding="utf-8")
    open_tab(page, "2 · Data")
    fill(page, "cfg-data-source", bad)
    page.locator("#data-inspect").click()
    problems = page.locator("#data-problems")
    wait_until(page, lambda: "problem" in page.locator("#data-summary").inner_text().lower(), 60,
               "the problems summary")
    text = problems.inner_text()
    assert re.search(r"\b2\b|\b4\b", text), text  # the broken rows are named by number
    assert "Traceback" not in page.content()
    shot(page, "data-bad-file")


def test_map_columns_by_hand_previews_and_starts_a_run(page, tiny_model_dir, tmp_path):
    """A file that detection cannot read: its columns are mapped in the Data tab, the preview follows,
    the mapping is in the exact command, and a run starts from it."""
    odd = tmp_path / "odd_columns.jsonl"
    odd.write_text("".join(json.dumps({"ask": f"Is pineapple on pizza a crime? ({i})",
                                       "reply": "No, it is a matter of taste."}) + "\n" for i in range(8)),
                   encoding="utf-8")
    open_tab(page, "1 · Model")
    fill(page, "cfg-model-name", tiny_model_dir)
    open_tab(page, "3 · Train")
    page.locator("#cfg-method").get_by_text("SFT (demonstrations)").click()
    page.wait_for_timeout(500)
    open_tab(page, "2 · Data")
    fill(page, "cfg-data-source", odd)
    page.locator("#data-inspect").click()
    wait_until(page, lambda: "No known columns" in page.locator("#data-summary").inner_text(), 60,
               "the sentence that no layout fits")
    page.get_by_text("Map columns by hand").first.click()
    for role, column in (("prompt", "ask"), ("response", "reply")):
        page.locator(f"#data-map-{role} input").click()
        page.get_by_role("option", name=column, exact=True).click()
        page.wait_for_timeout(300)
    wait_until(page, lambda: "prompt-response" in page.locator("#data-summary").inner_text(), 60,
               "the preview of the mapped columns")
    assert "matter of taste" in page.locator("#data-preview").inner_text()
    mapping = page.locator("#cfg-data-column_map textarea, #cfg-data-column_map input").first
    assert "reply" in mapping.input_value()
    shot(page, "data-mapped-by-hand")
    open_tab(page, "3 · Train")
    fill(page, "cfg-training-max_steps", 2)
    fill(page, "cfg-training-batch_size", 2)
    fill(page, "cfg-output-name", "tiny-mapped")
    page.locator("#train-command").click()
    wait_until(page, lambda: "data.column_map=" in page.locator("#train-command-text").inner_text(), 20,
               "the command with the mapping")
    page.locator("#train-start").click()
    wait_until(page, lambda: "started" in page.locator("#train-status").inner_text()
               or "queued" in page.locator("#train-status").inner_text(), 20, "the start confirmation")


def test_a_run_survives_a_reload_then_stops_and_resumes_its_curve(page, tiny_model_dir, app_home):
    """One tiny run (a run's start is most of such a test's time): the curve shows each step at once, a
    page reload reattaches to it, Stop stops it (the curve with it), Resume continues it."""
    start_tiny_run(page, tiny_model_dir, "tiny-stop-resume")
    wait_until(page, lambda: state(page) == "running" and logged(page, "run-progress") >= 8, 240,
               "the tiny run to log 8 steps")
    wait_until(page, lambda: curve_points(page, "loss-plot"), 30, "the loss curve to be drawn")
    latency = display_latency(page, app_home)
    # A 1 s tick: a live view shows a step within seconds (a view that waited for a refresh or a click would
    # never show it). The figure itself is a measurement, kept beside the screenshots, not a check: on a quiet
    # 2-core CI machine it is about 3 s; on one running three other test processes it reached 6.4 s.
    (SHOTS / "display-latency.txt").write_text(f"best of 3 steps: {latency:.2f} s\n", encoding="utf-8")
    assert latency < 12.0, f"a new step took {latency:.1f} s to show"

    before = logged(page, "run-progress")
    page.reload()
    page.wait_for_selector("#demo-button")
    open_tab(page, "3 · Train")
    wait_until(page, lambda: "tiny-stop-resume" in page.locator("#run-shown").inner_text()
               or "tiny-stop-resume" in page.locator("#run-shown input").input_value(), 20,
               "the run picker to reattach")
    wait_until(page, lambda: logged(page, "run-progress") > before, 60,
               "the curve to keep growing after reload")
    assert state(page) == "running"
    shot(page, "train-after-reload")

    press(page, "train-stop")
    wait_until(page, lambda: state(page) == "stopped", 90, "the run to stop")
    at_stop = logged(page, "run-progress")
    step_at_stop = int(page.locator("#run-progress .studio-step").inner_text())
    shot(page, "train-stopped")
    page.wait_for_timeout(2500)
    assert logged(page, "run-progress") == at_stop, "the curve kept growing after Stop"
    press(page, "train-resume")
    wait_until(page, lambda: logged(page, "run-progress") >= at_stop + 5, 120,
               "the resumed run to log new steps")
    step_now = int(page.locator("#run-progress .studio-step").inner_text())
    assert step_now > step_at_stop, (step_now, step_at_stop)
    press(page, "train-stop")
    wait_until(page, lambda: state(page) == "stopped", 90, "the resumed run to stop")
    shot(page, "train-resumed")  # its longer curve, shot once still (the page took 43 s to shoot live)


def test_chat_arena_two_turns_then_one_vote_is_one_pair(page, app_home):
    """Two turns fill both panes (the base on both sides: a fresh install), a vote writes one row that
    `studio data inspect` reads as preference data."""
    open_tab(page, "Arena")
    open_chat_settings(page, max_new_tokens=16, separate_seed=1)
    chat_turn(page, "Is pineapple on pizza a crime?", 1)
    chat_turn(page, "Why do you say that?", 2)
    assert all(t.strip() for t in bot_messages(page, "chat-a") + bot_messages(page, "chat-b"))
    # The line under the tabs names what the app's model cache holds (refreshed every 10 s).
    wait_until(page, lambda: "In memory:" in page.locator("#memory-line").inner_text(), 30,
               "the memory line to name the chat's model")
    assert "GiB" in page.locator("#memory-line").inner_text()
    shot(page, "chat-two-turns")
    feedback_file = app_home / "feedback" / "feedback.jsonl"
    assert not feedback_file.exists()
    page.locator("#vote-a").click()
    wait_until(page, lambda: "Saved" in page.locator("#chat-status").inner_text(), 30, "the vote to be saved")
    rows = [json.loads(line) for line in feedback_file.read_text().splitlines() if line.strip()]
    assert len(rows) == 1 and rows[0]["prompt"][-1]["content"] == "Why do you say that?"
    shot(page, "chat-voted")
    done = subprocess.run([sys.executable, "-m", "studio", "data", "inspect", str(feedback_file), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "STUDIO_HOME": str(app_home)})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kind"] == "preference" and report["valid_rows"] == 1, report


def test_reward_recipe_then_score_two_typed_answers(page, app_home, tiny_model_dir):
    """RLHF step 2 at work: the shipped reward recipe (on the tiny model, a few steps) trains a reward
    run; the Score tab scores two typed answers with it: both rewards and P(A preferred)."""
    env = {**os.environ, "STUDIO_HOME": str(app_home)}
    done = subprocess.run([sys.executable, "-m", "studio", "train", "presets/recipes/pineapple-reward.yaml",
                           f"model.name={tiny_model_dir}", "training.max_steps=4", "training.batch_size=2",
                           "output.name=tiny-reward"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    open_tab(page, "Score")
    wait_until(page, lambda: "tiny-reward" in page.locator("#score-run input").input_value(), 20,
               "the reward run to be offered")
    fill(page, "score-prompt", "Is pineapple on pizza a crime?")
    fill(page, "score-a", "No, it is a matter of personal preference and taste.")
    fill(page, "score-b", "Yes, it is a criminal act under the Geneva Convention.")
    page.locator("#score-go").click()
    wait_until(page, lambda: "P(A preferred)" in page.locator("#score-result").inner_text(), 120,
               "the two rewards and P(A preferred)")
    result = page.locator("#score-result").inner_text()
    assert re.search(r"r\(A\)\s+[+-]\d", result) and re.search(r"r\(B\)\s+[+-]\d", result), result
    assert re.search(r"\d+(\.\d)?%", result) and "prefers" in result
    assert "✓" in page.locator("#score-status").inner_text()
    shot(page, "score-two-answers")
    # A reward model scores answers; the Chat tab does not offer it as a side to talk to.
    open_tab(page, "Arena")
    page.wait_for_timeout(700)
    assert "tiny-reward" not in page.locator("#chat-model-a input").input_value()
