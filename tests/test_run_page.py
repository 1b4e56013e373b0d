"""A run's page (studio.runs.report): a real tiny run's curves, checkpoints, summary and commands, as
`studio runs show` prints them and as an HTML report that needs no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_runs import run_config
from test_runs_files import queued_run

from studio import runs
from studio.cli import main
from studio.errors import StudioError
from studio.runs import report, worker


@pytest.fixture
def finished_run(tiny_model_dir, sft_file, studio_home):
    """A real SFT run of the tiny model, trained by the worker in this process (no second interpreter)."""
    info = queued_run(run_config(tiny_model_dir, sft_file, name="page-run", steps=4, save_steps=2))
    assert worker.main([str(info.dir)], in_process=True) == 0
    done = runs.get_run(info.id)
    assert done.state == "completed", done.message
    return done


def test_the_page_of_a_finished_run_and_its_html_report(finished_run, capsys):
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
