"""Classify end to end in the browser, on a tiny locally built encoder: the Data tab reads a labelled file as
text classification, the Train tab shows each strategy's cost and trains the head, Judge › Classifier labels a
typed text with the run, and Learn › Prompting vs fine-tuning lists the run on its held-out set."""

from __future__ import annotations

import pytest
from test_app_browser import fill, open_tab, shot, state, wait_until
from tiny_encoder import build_tiny_encoder, sentiment_rows, write_jsonl

pytestmark = pytest.mark.browser


def click_visible(page, name: str) -> None:
    page.locator("button:visible", has_text=name).first.click()


def pick_first_option(page, elem_id: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option").first.click()
    page.wait_for_timeout(300)


def test_classify_data_train_try_and_compare(page, tmp_path):
    encoder = build_tiny_encoder(tmp_path / "bert")
    data = write_jsonl(tmp_path / "reviews.jsonl", sentiment_rows(32))
    open_tab(page, "1 · Model")
    fill(page, "cfg-model-name", encoder)
    open_tab(page, "3 · Train")
    page.locator("#cfg-method").get_by_text("Classify (fine-tune an encoder)").click()
    wait_until(page, lambda: "`lora`" in page.locator("#classify-plan-table").inner_text()
               or "lora" in page.locator("#classify-plan-table").inner_text(), 90, "each strategy's estimate")
    open_tab(page, "2 · Data")
    fill(page, "cfg-data-source", data)
    page.locator("#data-inspect").click()
    wait_until(page, lambda: "text classification" in page.locator("#data-summary").inner_text(), 60,
               "the labelled data's summary")
    open_tab(page, "3 · Train")
    page.locator("#cfg-classify-train input").first.click()
    page.get_by_role("option", name="The head only", exact=True).click()
    fill(page, "cfg-training-num_epochs", 1)  # 3 steps: what is checked is the path, not the figures
    fill(page, "cfg-output-name", "tiny-classifier")
    page.locator("#train-start").click()
    wait_until(page, lambda: state(page) == "completed", 180, "the classify run to complete")
    shot(page, "classify-trained")

    open_tab(page, "Classifier")
    click_visible(page, "Refresh list")
    pick_first_option(page, "classify-run")
    fill(page, "classify-text", "the film was great")
    page.locator("#classify-go").click()
    wait_until(page, lambda: "good" in page.locator("#classify-probabilities").inner_text(), 60,
               "each label's probability")
    assert "bad" in page.locator("#classify-probabilities").inner_text()

    open_tab(page, "Prompting vs fine-tuning")
    click_visible(page, "Refresh list")
    pick_first_option(page, "compare-test")
    page.locator("#compare-go").click()
    wait_until(page, lambda: "fine-tuned" in page.locator("#compare-table").inner_text(), 60,
               "the run's row in the comparison")
    assert "Traceback" not in page.content()
    shot(page, "classify-compared")
