"""Every `studio ...` command the README shows works as written (issue 37: its two-process example failed).

Each one parses with the real parser; the recipes and data files it names exist; a `studio train` recipe with
its overrides, and a `studio resume`'s overrides, make a valid config; the cheap ones run for real, in this
process, through the CLI's own entry point. (The two-process example itself trains in
tests/test_processes_prep.py.)"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from studio import cli
from studio.config import RunConfig

ROOT = Path(__file__).resolve().parent.parent
# Commands that read only the studio's own files: run for real (the others train, load a model or its
# tokenizer, or serve).
CHEAP = {"methods", "data cache", "runs", "arena leaderboard"}


def readme_commands() -> list[str]:
    """The `studio` lines of the README's code blocks (their comments dropped), and its inline commands."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found, in_block = [], False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
        elif in_block and line.strip().startswith("studio "):
            # & backgrounds it
            found.append(re.split(r"\s#\s", line.strip())[0].strip().removesuffix("&").strip())
    found += [" ".join(span.split()) for span in re.findall(r"`(studio\s[^`]+)`", text)]
    return list(dict.fromkeys(found))


def written_forms(command: str) -> list[list[str]]:
    """The command without its optional [parts], and with them."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", command)
    full = re.sub(r"\[([^\]]*)\]", r"\1", command)
    return [shlex.split(form)[1:] for form in dict.fromkeys((bare, full))]


def command_of(args) -> str:
    nested = {"data": "data_command", "arena": "arena_command"}.get(args.command)
    return args.command + (f" {getattr(args, nested)}" if nested else "")


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands_it_promises():
    assert len(COMMANDS) >= 25, COMMANDS
    shown = {" ".join(c.split()[1:3]) for c in COMMANDS}
    assert "train presets/recipes/pineapple-dpo.yaml" in shown and "data inspect" in shown
    assert ("studio train presets/recipes/pineapple-dpo.yaml training.max_steps=4 distributed.processes=2"
            in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_readme_command_parses_and_names_what_exists(command, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the studio's folder
    if command.removeprefix("studio ") in cli.HANDLERS:  # named in a sentence ("`studio bench` runs ...")
        return
    for argv in written_forms(command):
        args = cli.build_parser().parse_args(argv)
        for word in argv:
            if word.startswith(("presets/", "assets/")):
                assert (ROOT / word).exists(), f"{command!r} names {word}, which does not exist"
        if args.command == "train" and not re.fullmatch(r"[A-Z_]+", args.config):  # RECIPE: a placeholder
            RunConfig.from_yaml(args.config, args.overrides).validate()
        elif args.command == "resume" and args.overrides:
            RunConfig.from_yaml(ROOT / "presets/recipes/pineapple-dpo.yaml", args.overrides).validate()
        if command_of(args) in CHEAP and not any(re.fullmatch(r"[A-Z_]+", word) for word in argv):  # no FILE
            assert cli.main(argv) == 0, capsys.readouterr().err
            assert capsys.readouterr().out.strip(), f"{command!r} printed nothing"


def test_a_reader_that_goes_away_gets_no_traceback():
    """`studio methods | head -1`: the pipe closes early; the command ends quietly, as cat does."""
    import subprocess

    studio = Path(sys.executable).with_name("studio")
    proc = subprocess.run(f"'{studio}' methods | head -c 10", shell=True, capture_output=True,
                          text=True, check=False, timeout=120, executable="/bin/bash")
    assert len(proc.stdout) == 10
    assert proc.stderr == "", proc.stderr
