"""The terminal in the user's language: every sentence a command prints is marked for translation (the scanner
in tests/cli_strings.py), the catalogs keep each key's placeholders, and real commands run in-process answer
in Spanish under STUDIO_LANG=es and in English without it."""

from __future__ import annotations

import re

from cli_strings import tr_of_unmarked_template, unmarked_terminal_text

from studio.cli import main
from studio.i18n import catalogs


def test_every_sentence_the_terminal_prints_is_marked_for_translation():
    unmarked = unmarked_terminal_text()
    assert not unmarked, (f"{len(unmarked)} sentences the terminal prints are not wrapped in tr() (write "
                          "tr(\"... {name} ...\").format(name=...) and add the key to "
                          "assets/locales/LANG/):\n"
                          + "\n".join(f"studio/{where}:{line}: {text!r}" for where, line, text in unmarked))
    built = tr_of_unmarked_template()
    assert not built, ("tr() of an f-string never matches a catalog key; use tr('... {x}').format(x=...): "
                       f"{built}")


def test_the_terminal_scanner_finds_unmarked_prints_exits_writes_and_printed_formatters(tmp_path):
    (tmp_path / "face.py").write_text(
        "import json, sys\nfrom studio.i18n import tr\n"
        "def summary(n):\n    lines = [f'Total of {n} rows']\n    lines.append('Nothing more to say.')\n"
        "    return '\\n'.join(lines)\n"
        "def cli(args, n, path, rows):\n"
        "    print('Planted sentence.')\n    print(f'Wrote {n} rows to {path}', file=sys.stderr)\n"
        "    sys.stderr.write(f'Planted write {n}\\n')\n    print(summary(n))\n"
        "    print(tr('Marked {n}').format(n=n))\n    print(json.dumps({'rows': n}))\n"
        "    print(f'{n:>3} {path}')\n    print(rows[0]['label'] if getattr(args, 'json', False) else n)\n"
        "    print(tr(f'Built {n}'))\n"
        "    sys.exit('Planted exit.')\n", encoding="utf-8")
    found = {text for _, _, text in unmarked_terminal_text(tmp_path)}
    assert found == {"Planted sentence.", "Wrote ", " rows to ", "Planted write ", "Total of ", " rows",
                     "Nothing more to say.", "Planted exit."}
    assert tr_of_unmarked_template(tmp_path) == [("face.py", 16)]


def test_every_translation_names_only_placeholders_of_its_key():
    """A translation with a {value} its key lacks (a typo, a translated name) raises KeyError in .format() at
    the user's terminal; leaving one out is allowed (an English plural "s" that Spanish says otherwise)."""
    def fields(text: str) -> set[str]:
        return set(re.findall(r"\{(\w*)[^{}]*\}", text))

    for language, catalog in catalogs().items():
        wrong = [key for key, said in catalog.items() if fields(said) - fields(key)]
        assert not wrong, f"'{language}' translations with placeholders their key lacks: {wrong}"


def test_the_words_the_terminal_translates_from_data_have_translations():
    """tr() of a value (a method's description, a catalog category, a verdict) is not seen by the scanner."""
    from studio.methods import all_methods
    from studio.models.catalog import load_catalog

    catalog = load_catalog()
    values = [m.description for m in all_methods()]
    values += [c["label"] for c in catalog["categories"].values()] + [catalog["encoders"]["label"]]
    values += ["fits", "tight", "won't fit", "maximize", "minimize", "text classification",
               "pair classification", "token labelling", "answering ({label})", "judging"]
    for language, words in catalogs().items():
        assert not [v for v in values if v not in words], language


def test_real_commands_answer_in_spanish_under_studio_lang_and_in_english_without(monkeypatch, capsys,
                                                                                   studio_home):
    monkeypatch.setenv("STUDIO_LANG", "es")
    assert main(["models", "--category", "small"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("Esta máquina: ") and "Pequeños (< 1B)" in said and "cabe (" in said, said
    assert main(["methods"]) == 0
    assert "Ajuste fino supervisado: el modelo imita respuestas de ejemplo. Datos: sft. Recetas:" in \
        capsys.readouterr().out
    assert main(["data", "cache"]) == 0
    assert capsys.readouterr().out.startswith("Caché de datos tokenizados en ")
    assert main(["status"]) == 0
    assert capsys.readouterr().out == "Ningún proceso del estudio tiene un modelo en memoria.\n"

    monkeypatch.delenv("STUDIO_LANG")
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["models", "--category", "small"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("This machine: ") and "Small (< 1B)" in said and "fits (" in said, said
    assert main(["runs"]) == 0
    assert capsys.readouterr().out.startswith("No runs yet; start one with `studio train")
    assert main(["models", "--category", "small", "--json"]) == 0  # machine-readable: never translated
    assert '"verdict": "fits"' in capsys.readouterr().out
