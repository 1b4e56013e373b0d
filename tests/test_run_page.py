"""A run's page (studio.runs.report): a real tiny run's curves, checkpoints, summary and commands, as
`studio runs show` prints them and as an HTML report that needs no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_runs import run_config
from test_runs_files import queued_run

from studio import runs
from studio.cli import main
from studio.errors import StudioError
from studio.i18n import speaking, translate
from studio.runs import report, worker


@pytest.fixture
def finished_run(tiny_model_dir, sft_file, studio_home):
    """A real SFT run of the tiny model, trained by the worker in this process (no second interpreter)."""
    info = queued_run(run_config(tiny_model_dir, sft_file, name="page-run", steps=4, save_steps=2))
    assert worker.main([str(info.dir)], in_process=True) == 0
    done = runs.get_run(info.id)
    assert done.state == "completed", done.message
    return done


def test_the_page_of_a_finished_run_and_its_html_report(finished_run, capsys, tmp_path, tiny_model_dir,
                                                        sft_file, monkeypatch):
    page = report.run_page(finished_run.id)
    assert page["state"] == "completed" and page["step"] == 4
    losses = page["series"]["loss"]
    assert [step for step, _ in losses] == [1, 2, 3, 4]  # every logged step, from metrics.jsonl
    assert [c["step"] for c in page["checkpoints"]] == [2, 4]
    assert all(c["complete"] for c in page["checkpoints"])
    assert page["adapter"] and page["summary"]["global_step"] == 4

    assert main(["runs", "show", finished_run.id, "--html"]) == 0
    printed = capsys.readouterr().out
    assert f"Run {finished_run.id} (page-run, SFT): completed, step 4/4" in printed
    assert "Checkpoint checkpoint-4" in printed and "Reproduce: studio train " in printed
    written = re.search(r"HTML report: (\S+)", printed).group(1)
    text = Path(written).read_text(encoding="utf-8")
    assert text.count("src='data:image/png;base64,") == len(page["series"])  # the charts travel inside
    assert "http://" not in text and "https://" not in text  # nothing to fetch when opened

    from studio.ui.runs import run_page as tab  # the Runs tab shows the same page, its charts drawn as images

    view = tab.page_view(finished_run.id)
    assert view["page"].startswith(f"### Run {finished_run.id}") and "`studio resume " in view["page"]
    assert view["charts"].count("<img") == len(page["series"])
    assert tab.chat_with({"run": finished_run.id})["pick_a"]["value"] == f"run:{finished_run.id}"
    # Resumed and ended between two ticks: completed when last seen and completed now, with more steps
    # logged; the page is drawn whole (it once kept the line of the resume's start, "running, step 2/4").
    redrawn = tab.follow({"run": finished_run.id, "seen": [finished_run.id, "completed", 2, 2]})
    assert redrawn["page"] == view["page"] and redrawn["seen"][1:3] == ["completed", 4]

    # In Spanish (the Runs tab shows these same lines): every line in Spanish, none left that the catalog
    # would still translate.
    monkeypatch.setenv("STUDIO_LANG", "es")
    assert main(["runs", "show", finished_run.id]) == 0
    spanish = capsys.readouterr().out.splitlines()
    monkeypatch.delenv("STUDIO_LANG")
    assert spanish[0].startswith(f"Ejecución {finished_run.id} (page-run, SFT): completada, paso 4/4")
    assert "Punto de control checkpoint-4" in spanish and spanish[-1].startswith("Carpeta: ")
    assert any(line.startswith("Reproducir: studio train ") for line in spanish)
    with speaking("es"):
        assert [line for line in spanish if translate(line.strip()) != line.strip()] == []
        report_text = report.html_report({**page, "series": {}})  # its charts are drawn above already
    assert "<html lang='es'>" in report_text and "<title>Ejecución page-run" in report_text

    # The time a run of the same model and method will take here, from this run's measured steps.
    from studio.config import RunConfig
    from studio.runs import timing

    machine = timing.this_machine()
    cfg = RunConfig.from_yaml(str(finished_run.dir / "config.yaml"), [])
    done = [runs.get_run(finished_run.id)]
    found = timing.estimate(cfg, done, machine)
    assert found["run"] == finished_run.id and found["per_step"] > 0
    assert found["seconds"] == pytest.approx(found["startup"] + 4 * found["per_step"])
    assert "on this machine" in timing.estimate_sentence(found)
    cfg.training.batch_size *= 2
    assert timing.estimate(cfg, done, machine)["per_step"] == pytest.approx(2 * found["per_step"])
    elsewhere = timing.estimate(cfg, done, ("Another CPU", machine[1]))  # no promise from another machine
    assert elsewhere is None and timing.estimate_sentence(None).startswith("No time estimate yet")

    # Where it went (exports, pushes), then Delete: asks first, refuses an active run, takes only its own.
    from studio.publish.hub import export_adapter
    from studio.runs.removal import delete_run

    assert "Shared: not yet" in "\n".join(report.page_lines(report.run_page(finished_run.id)))
    target = export_adapter(finished_run.dir, tmp_path / "exported")  # a real export, recorded in the run
    shares = report.run_page(finished_run.id)["shares"]
    assert [(s["kind"], s["where"]) for s in shares] == [("adapter export", str(target))]
    assert f"Shared: adapter export → {target}" in tab.page_view(finished_run.id)["page"]

    # A queued run is refused (the page's Delete says so at once); the finished one asks, then goes whole.
    waiting = queued_run(run_config(tiny_model_dir, sft_file, name="waiting", steps=2, save_steps=2))
    assert "stop it first" in tab.ask_delete({"run": waiting.id})["status"]
    with pytest.raises(StudioError, match="stop it first"):
        delete_run(waiting.id)
    asked = tab.ask_delete({"run": finished_run.id})
    assert asked["confirm"].visible and "cannot be undone" in asked["confirm_text"]
    assert main(["runs", "delete", finished_run.id]) == 2  # no terminal to ask on, no --yes: nothing goes
    assert "add --yes" in capsys.readouterr().err and finished_run.dir.is_dir()
    done = tab.delete_confirmed({"run": finished_run.id})
    assert done["status"].startswith("✓ Deleted run") and not finished_run.dir.exists()
    assert target.is_dir()  # the export, saved elsewhere, stays
    assert finished_run.id not in [value for _, value in done["run"]["choices"]]


def test_show_without_a_run_says_what_to_type_and_the_empty_tab_says_how_to_get_one(studio_home):
    from studio.ui.runs import run_page as tab

    assert tab.page_view(None)["page"].startswith("No runs yet. Start one in **Make → 3 · Train**")
    with pytest.raises(StudioError, match="studio runs show RUN"):
        report.cli_show(type("Args", (), {"run": None, "html": None})())
    assert main(["runs", "show", "no-such-run"]) != 0


def test_a_redraw_with_no_run_shown_changes_nothing():
    """Opening Train while a reloaded page is still attaching: no empty view, no stopped tick."""
    import gradio as gr

    from studio.ui import monitor

    assert monitor.redraw(None) == (gr.skip(),) * (monitor.chart_slots() + 5)


def test_a_run_in_the_users_own_folder_leaves_the_list_but_its_folder_stays(studio_home, tmp_path,
                                                                            tiny_model_dir, sft_file):
    from studio.runs.removal import delete_run

    own = tmp_path / "my-work"
    own.mkdir()
    (own / "notes.txt").write_text("mine", encoding="utf-8")
    cfg = run_config(tiny_model_dir, sft_file, name="own-dir", steps=2, save_steps=2)
    cfg.output.dir = str(own)
    info = queued_run(cfg)
    runs.stop_run(info.id)  # stopped before it started
    assert "is kept" in delete_run(info.id)
    assert (own / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert info.id not in [r.id for r in runs.list_runs()]


def test_a_classifiers_figures_are_named_as_such_on_its_page(studio_home, tiny_model_dir, sft_file):
    info = queued_run(run_config(tiny_model_dir, sft_file, name="figures", steps=2, save_steps=2))
    (info.dir / "eval.json").write_text(json.dumps(
        {"kind": "classify", "before": {"accuracy": 0.25}, "after": {"accuracy": 0.75, "macro_f1": 0.7}}))
    lines = report.page_lines(report.run_page(info.id))
    assert "Evaluation, classifier, held-out split: after / accuracy: 0.75" in lines
    assert not any("held-out pairs" in line for line in lines)
