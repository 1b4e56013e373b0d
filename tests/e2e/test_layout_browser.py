"""The layout by job, in English and Spanish: every top-level tab at 1280 and 800 px in both languages
(screenshots in test-artifacts/e2e/), the page drawn in the browser's language from the first paint, and
the switch that changes it (and keeps it, in a cookie the server's sentences follow too)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
TOP_TABS = {"en": ["Make", "Judge", "Share", "Learn", "Runs"],
            "es": ["Crear", "Evaluar", "Compartir", "Aprender", "Ejecuciones"]}
DEMO_BUTTON = {"en": "Pineapple pizza demo", "es": "Demo de la pizza con piña"}


def _load(page, app_url=None) -> None:
    if app_url:
        page.goto(app_url)
    page.wait_for_selector("#demo-button", timeout=60_000)


def _every_tab_at_two_widths(page, language: str) -> None:
    tabs = [t.inner_text() for t in page.get_by_role("tab").all()]
    assert all(name in tabs for name in TOP_TABS[language]), tabs
    for width in (1280, 800):
        page.set_viewport_size({"width": width, "height": 900})
        for slug, name in zip(TOP_TABS["en"], TOP_TABS[language]):
            page.get_by_role("tab", name=name, exact=True).click()
            page.wait_for_timeout(250)
            page.screenshot(path=str(SHOTS / f"layout-{language}-{width}-{slug.lower()}.png"), full_page=True)
    page.get_by_role("tab", name=TOP_TABS[language][0], exact=True).click()


def test_a_spanish_browser_gets_the_page_in_spanish_from_the_first_paint(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-ES")
    try:
        page = context.new_page()
        _load(page, app_url)
        assert page.locator("#demo-button").inner_text() == DEMO_BUTTON["es"]
        tabs = [t.inner_text() for t in page.get_by_role("tab").all()]
        assert "1 · Modelo" in tabs and "Crear" in tabs and "Make" not in tabs, tabs  # the first tab too
    finally:
        context.close()


def test_every_tab_in_both_languages_and_the_switch_between_them(browser, app_url):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        _load(page, app_url)
        assert page.locator("#demo-button").inner_text() == DEMO_BUTTON["en"]
        _every_tab_at_two_widths(page, "en")
        page.locator("#language-switch").get_by_text("Español").click()  # the page draws again in Spanish
        page.wait_for_function(f"document.querySelector('#demo-button')?.innerText === '{DEMO_BUTTON['es']}'",
                               timeout=60_000)
        assert any(c["name"] == "studio-lang" and c["value"] == "es" for c in context.cookies())
        _every_tab_at_two_widths(page, "es")
        page.locator("#language-switch").get_by_text("English").click()
        page.wait_for_function(f"document.querySelector('#demo-button')?.innerText === '{DEMO_BUTTON['en']}'",
                               timeout=60_000)
    finally:
        context.close()
