"""The interface in every language it offers: each string the app shows has a translation, the language is
chosen from the app's switch or the browser, and a handler's sentences come in the request's language."""

from __future__ import annotations

import json

from ui_strings import shown_strings

from studio.ui import i18n, wiring


def test_every_string_the_app_shows_has_a_translation_in_every_language():
    shown = shown_strings()
    assert len(shown) > 100  # the scanner reads the real UI (a scanner that finds nothing passes anything)
    for language, catalog in i18n.catalogs().items():
        missing = sorted({f"{where}:{line}: {text!r}" for where, line, text, _ in shown
                          if text not in catalog})
        assert not missing, (f"{len(missing)} strings shown to the user lack a '{language}' translation "
                             f"(add them to assets/locales/{language}/AREA.json):\n" + "\n".join(missing))


def test_the_scanner_finds_labels_buttons_markdown_and_tr_calls(tmp_path):
    (tmp_path / "panel.py").write_text(
        "import gradio as gr\nfrom studio.ui.i18n import tr\n"
        "gr.Button('Planted button')\ngr.Textbox(label='Planted label', info='Planted help')\n"
        "gr.Markdown(tr('Planted text'))\nx = tr('Planted sentence')\ngr.Textbox(value='typed by the user')\n"
        "NAMED = 'Planted constant'\ngr.Markdown(NAMED)\n",
        encoding="utf-8")
    texts = {text for _, _, text, _ in shown_strings(tmp_path)}
    assert texts == {"Planted button", "Planted label", "Planted help", "Planted text", "Planted sentence",
                     "Planted constant"}


def test_catalogs_merge_every_file_of_a_language(tmp_path, monkeypatch):
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "app.json").write_text(json.dumps({"Start": "Empezar"}), encoding="utf-8")
    (tmp_path / "es" / "judge.json").write_text(json.dumps({"Judge": "Evaluar"}), encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n.catalogs.cache_clear()
    try:
        assert i18n.catalogs() == {"es": {"Start": "Empezar", "Judge": "Evaluar"}}
        assert i18n.languages() == ["en", "es"]
    finally:
        i18n.catalogs.cache_clear()


def test_the_language_follows_the_switch_then_the_browser_then_english():
    assert i18n.best_language("es", "en-US,en;q=0.9") == "es"
    assert i18n.best_language(None, "fr-FR,es;q=0.8,en;q=0.5") == "es"
    assert i18n.best_language(None, "en;q=0.3,es-MX;q=0.9") == "es"
    assert i18n.best_language("xx", "fr-FR") == "en"
    assert i18n.best_language(None, None) == "en"


def test_a_handler_speaks_the_language_of_the_request_that_started_it():
    import gradio as gr

    with gr.Blocks():
        out = gr.Markdown()
    run = wiring.by_name(lambda: {"status": i18n.tr("Start training")}, None, {"status": out})
    spanish = gr.Request(headers={"accept-language": "es-ES,es;q=0.9"}, cookies={})
    switched = gr.Request(headers={"accept-language": "es-ES"}, cookies={i18n.COOKIE: "en"})
    assert run(spanish) == {out: "Empezar a entrenar"}
    assert run(switched) == {out: "Start training"}
    assert i18n.tr("Start training") == "Start training"  # outside an event: the English key

    def steps():
        yield {"status": i18n.tr("Resume")}
        yield {"status": i18n.tr("Stop")}
    stream = wiring.by_name(steps, None, {"status": out})
    assert list(stream(spanish)) == [{out: "Reanudar"}, {out: "Detener"}]
