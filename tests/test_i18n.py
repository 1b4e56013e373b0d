"""The interface in every language it offers: each string the app shows has a translation, the language is
chosen from the app's switch or the browser, and a handler's sentences come in the request's language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from error_templates import error_templates, sample_sentence
from ui_strings import shown_strings

import studio.i18n as core_i18n
from studio.cli import main
from studio.ui import i18n, wiring

STUDIO = Path(__file__).resolve().parents[1] / "studio"


def test_every_string_the_app_shows_has_a_translation_in_every_language():
    shown = shown_strings(STUDIO)  # the app's strings and the terminal's (tr in the core: cli, runs.commands)
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
    monkeypatch.setattr(core_i18n, "LOCALES_DIR", tmp_path)
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


def test_a_sentence_built_from_a_key_with_placeholders_is_translated_with_its_values():
    with i18n.speaking("es"):
        assert i18n.translate("No run named 'x1'; `studio runs` lists the runs there are.") == \
            "No hay ninguna ejecución llamada 'x1'; `studio runs` lista las que hay."
        assert i18n.translate("Completed 7 steps in 36 s; the adapter is ready.") == \
            "Completados 7 pasos en 36 s; el adaptador está listo."
        assert i18n.translate("A sentence no catalog knows.") == "A sentence no catalog knows."
    assert i18n.translate("Completed 7 steps in 36 s; the adapter is ready.").startswith("Completed")


@pytest.mark.parametrize(("env", "language"), [
    ({"STUDIO_LANG": "es", "LANG": "en_US.UTF-8"}, "es"), ({"LANG": "es_ES.UTF-8"}, "es"),
    ({"LC_ALL": "es_MX.UTF-8", "LANG": "en_US.UTF-8"}, "es"), ({"LANGUAGE": "es:en"}, "es"),
    ({"LC_ALL": "C.UTF-8", "LANG": "es_ES.UTF-8"}, "es"), ({"LANG": "fr_FR.UTF-8"}, "en"), ({}, "en")])
def test_the_terminal_speaks_its_locale(env, language):
    assert core_i18n.cli_language(env) == language


def test_the_cli_says_its_errors_and_sentences_in_the_locale(monkeypatch, capsys, studio_home):
    monkeypatch.setenv("STUDIO_LANG", "es")
    assert main(["runs"]) == 0
    assert "Aún no hay ejecuciones" in capsys.readouterr().out
    assert main(["runs", "show", "no-such-run"]) == 2
    assert capsys.readouterr().err.strip() == \
        "error: No hay ninguna ejecución llamada 'no-such-run'; `studio runs` lista las que hay."
    monkeypatch.setenv("STUDIO_LANG", "en")
    assert main(["runs", "show", "no-such-run"]) == 2
    assert "No run named 'no-such-run'" in capsys.readouterr().err


def test_the_demo_trains_and_asks_in_the_interface_language():
    from studio.ui.learn import demo_tab

    english = demo_tab.demo_prompts()
    with i18n.speaking("es"):
        spanish = demo_tab.demo_prompts()
        pairs_file = demo_tab.demo_file(demo_tab.PAIRS_NAME)
        heldout_file = demo_tab.demo_file(demo_tab.HELDOUT_NAME)
    assert len(spanish) == len(english) == 4 and all(p.startswith("¿") for p in spanish)
    assert pairs_file.parent.name == "es" and heldout_file.parent.name == "es"
    pairs = [json.loads(line) for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    held = [json.loads(line) for line in heldout_file.read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == 40 and len(held) == 8
    assert all(r["chosen"].startswith("No") and r["rejected"].startswith("Sí") for r in pairs + held)
    assert not {r["prompt"] for r in held} & {r["prompt"] for r in pairs}  # held out: never trained on
    assert set(spanish) <= {r["prompt"] for r in held}


def test_a_handlers_finished_sentence_comes_in_the_request_language():
    from studio.ui.make import train_tab

    with i18n.speaking("es"):
        loaded = train_tab.load_recipe({"recipe_pick": "presets/recipes/pineapple-dpo.yaml"})["status"]
    assert loaded == "✓ Receta presets/recipes/pineapple-dpo.yaml cargada."
    english = train_tab.load_recipe({"recipe_pick": "presets/recipes/pineapple-dpo.yaml"})["status"]
    assert english == "✓ Loaded recipe presets/recipes/pineapple-dpo.yaml."


def test_every_error_the_studio_raises_says_itself_in_every_language():
    """Each StudioError sentence in the source (literal or f-string), built with made-up values, comes out
    translated with its values kept: the faces translate an error where they show it (cli.main,
    ui.messages), so a new `raise XError(f"...")` without a catalog entry fails here."""
    templates = error_templates()
    assert len(templates) > 200  # the scanner reads the real source (a scanner that finds nothing passes)
    for language in i18n.catalogs():
        missing = []
        with core_i18n.speaking(language):
            for where, line, key in templates:
                sentence, values = sample_sentence(key)
                said = core_i18n.translate(sentence)
                if said == sentence or not all(value in said for value in values):
                    missing.append(f"{where}:{line}: {key!r}")
        assert not missing, (f"{len(missing)} error sentences lack a '{language}' translation that keeps "
                             "their "
                             f"values (add them to assets/locales/{language}/errors.json):\n" +
                             "\n".join(missing))


def test_the_error_scanner_reads_raises_of_every_studio_error_class(tmp_path):
    (tmp_path / "errors.py").write_text(
        "class StudioError(Exception): ...\nclass DataError(StudioError): ...\nclass RowError(DataError): "
        "...\n",
        encoding="utf-8")
    (tmp_path / "use.py").write_text(
        "from errors import DataError, RowError\nclass Other(Exception): ...\n"
        "def f(path, row, exc):\n"
        "    raise RowError(f'Row {row.number} of {path} is not JSON ({exc}); fix it.')\n"
        "    raise DataError('No data given; choose a file.')\n"
        "    raise DataError(f'{exc} ({path})')\n"  # a frame around other sentences: no words of its own
        "    raise Other('Not a studio error at all.')\n", encoding="utf-8")
    keys = [key for _, _, key in error_templates(tmp_path)]
    assert keys == ["Row {number} of {path} is not JSON ({exc}); fix it.", "No data given; choose a file."]
    assert sample_sentence(keys[0]) == ("Row «v0» of «v1» is not JSON («v2»); fix it.",
                                        ["«v0»", "«v1»", "«v2»"])


def test_a_core_error_reaches_the_user_in_their_language(monkeypatch, capsys, tmp_path):
    from studio.errors import StudioError
    from studio.ui.messages import sentence

    monkeypatch.setenv("STUDIO_LANG", "es")
    assert main(["data", "inspect", str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: El archivo de datos {tmp_path / 'nope.jsonl'} no "
                                               "existe; "
                                               "revisa la ruta o vuelve a subir el archivo.")
    with i18n.speaking("es"):  # the app: one label, one suffix left empty ("label" and not "labels")
        said = sentence(StudioError("eval.jsonl has the label 'x', never seen in training (the model knows "
                                    "'a', 'b'); remove those rows or train with them."))
    assert said.startswith("eval.jsonl tiene etiqueta 'x' ausente del entrenamiento (el modelo conoce 'a', "
                           "'b')")


def test_the_empty_states_say_how_to_get_one_in_the_users_language(studio_home):
    from studio.ui.judge import leaderboard_panel
    from studio.ui.runs import run_page

    with i18n.speaking("es"):
        board = leaderboard_panel.board_markdown()  # no votes: how to cast some, then no judge yet: how
        runs = run_page.page_view(None)["page"]  # no runs: where to start one
    assert board.startswith("Aún no hay votos a ciegas: activa el modo ciego en la Arena"), board
    assert "Ningún juez ha evaluado aún los votos" in board, board
    assert runs.startswith("Aún no hay ejecuciones. Empieza una en **Crear → 3 · Entrenar**"), runs
