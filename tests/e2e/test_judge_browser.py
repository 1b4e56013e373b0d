"""The Judge panel end to end in the browser: a tiny local model answers a prompt file, the scripted judge
server on 127.0.0.1 (tests/judge_server.py) grades it, and the page shows the score, the tokens, and
each verdict's reasoning beside the answer."""

from __future__ import annotations

from judge_server import JudgeServer  # tests/ is on the path (tests/conftest.py)
from test_app_browser import fill, open_tab, shot, wait_until


def test_judge_panel_grades_a_model_and_shows_the_reasoning(page, tiny_model_dir, tmp_path):
    server = JudgeServer().start()
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Is pineapple on pizza a crime?\nSay hello to the world.\n")
    try:
        open_tab(page, "Judges")
        box = page.locator("#judge-model input").first
        box.fill(str(tiny_model_dir))
        box.press("Enter")
        fill(page, "judge-url", server.url)
        fill(page, "judge-name", "shorter")
        fill(page, "judge-bench", prompts)
        fill(page, "judge-limit", 2)
        fill(page, "judge-max-new", 8)
        page.locator("#judge-start").click()
        wait_until(page, lambda: "Done" in page.locator("#judge-status").inner_text(), 180,
                   "the judge job to finish")
        summary = page.locator("#judge-summary").inner_text()
        assert "over 2 graded answers" in summary and "tokens sent" in summary, summary
        assert f"shorter at {server.url}" in summary
        table = page.locator("#judge-records").inner_text()
        assert table.count("Rating: [[") == 2, table
        assert server.count("shorter") == 2
        shot(page, "judge-panel")
        page.locator("#judge-cancel").click()  # the job's own stop is tested in test_judges.py
        wait_until(page, lambda: "Cancelling" in page.locator("#judge-status").inner_text(), 20,
                   "Cancel's answer")
    finally:
        server.shutdown()
