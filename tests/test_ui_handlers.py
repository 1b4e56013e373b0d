"""The app's handlers are plain functions: called here directly, no browser, no server."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import gradio as gr
import pytest

from studio.config import RunConfig, help_text
from studio.errors import StudioError
from studio.ui import app, charts, model_slot, monitor, recipes, run_picker, widgets
from studio.ui.learn import demo_tab
from studio.ui.make import data_report, data_tab, model_tab, train_tab
from studio.ui.share import export_tab


# ---- security and launch ---------------------------------------------------------------------------
def test_share_or_public_host_needs_auth():
    with pytest.raises(StudioError, match="--auth"):
        app.check_exposure("127.0.0.1", True, None)
    with pytest.raises(StudioError, match="--auth"):
        app.check_exposure("0.0.0.0", False, None)
    app.check_exposure("0.0.0.0", True, ("u", "p"))
    app.check_exposure("127.0.0.1", False, None)


def test_auth_must_have_user_and_password():
    assert app.parse_auth("teacher:secret") == ("teacher", "secret")
    assert app.parse_auth("teacher:a:b") == ("teacher", "a:b")
    for bad in ("teacher", ":secret", "teacher:"):
        with pytest.raises(StudioError):
            app.parse_auth(bad)


def test_password_from_a_file_or_the_environment_not_the_command_line(tmp_path, monkeypatch):
    from studio.cli import build_parser

    secret = tmp_path / "auth"
    secret.write_text("teacher:from-file\n")
    args = build_parser().parse_args(["app", "--share", "--auth-file", str(secret)])
    assert app.launch_kwargs(args)["auth"] == ("teacher", "from-file")
    monkeypatch.setenv("STUDIO_AUTH", "teacher:from-env")
    args = build_parser().parse_args(["app", "--host", "0.0.0.0"])
    assert app.launch_kwargs(args)["auth"] == ("teacher", "from-env")
    monkeypatch.delenv("STUDIO_AUTH")
    with pytest.raises(StudioError, match="STUDIO_AUTH"):
        app.launch_kwargs(build_parser().parse_args(["app", "--share"]))
    with pytest.raises(StudioError, match="Could not read the password file"):
        app.launch_kwargs(build_parser().parse_args(["app", "--auth-file", str(tmp_path / "missing")]))


def test_cli_refuses_share_without_auth(capsys):
    from studio.cli import main

    assert main(["app", "--share"]) != 0
    err = capsys.readouterr().err
    assert "--auth" in err and "Traceback" not in err


def test_launch_defaults_are_local_and_capped():
    args = types.SimpleNamespace(host="127.0.0.1", port=7999, share=False, auth=None)
    kwargs = app.launch_kwargs(args)
    assert kwargs["server_name"] == "127.0.0.1"
    assert kwargs["allowed_paths"] == []
    assert kwargs["max_file_size"]
    assert kwargs["auth"] is None and kwargs["share"] is False


# ---- widgets and recipes -------------------------------------------------------------------------
def test_widget_help_comes_from_config_metadata():
    for key in ("dpo.beta", "training.learning_rate", "lora.r", "data.template"):
        assert widgets.widget_for(key).info == help_text(key)


def test_recipe_round_trip_through_widgets():
    cfg = recipes.load_recipe_config(recipes.DEMO_RECIPE)
    values = recipes.values_from_config(cfg, recipes.ALL_KEYS)
    again = recipes.config_from_values(cfg.to_dict(), values)
    assert again.training == cfg.training and again.lora == cfg.lora and again.method == "dpo"
    assert Path(again.data.source).is_absolute() and Path(again.data.source).is_file()
    assert again.data.eval_source and Path(again.data.eval_source).is_file()


def test_show_command_lists_only_the_changes():
    base = recipes.load_recipe_config(recipes.DEMO_RECIPE).to_dict()
    values = recipes.values_from_config(RunConfig.from_dict(base), recipes.ALL_KEYS)
    values["training.max_steps"] = 20.0
    out = train_tab.show_command({"recipe": base, "recipe_pick": str(recipes.DEMO_RECIPE), **values})
    text, yaml_text = out["command"], out["yaml"]
    assert "studio train presets/recipes/pineapple-dpo.yaml training.max_steps=20" in text
    assert RunConfig.from_dict(__import__("yaml").safe_load(yaml_text)).training.max_steps == 20


def test_column_map_text():
    assert recipes.parse_column_map("prompt=question, chosen=good") == {"prompt": "question",
                                                                        "chosen": "good"}
    assert recipes.parse_column_map("") == {}
    with pytest.raises(StudioError):
        recipes.parse_column_map("nonsense")


def test_save_and_load_recipe(studio_home):
    base = recipes.load_recipe_config(recipes.DEMO_RECIPE).to_dict()
    values = recipes.values_from_config(RunConfig.from_dict(base), recipes.ALL_KEYS)
    status = train_tab.save_recipe_as({"recipe": base, "recipe_name": "my try", **values})["status"]
    saved = studio_home / "recipes" / "my-try.yaml"
    assert saved.is_file() and "Saved" in status
    loaded = train_tab.load_recipe({"recipe_pick": str(saved)})
    assert loaded["recipe"]["method"] == "dpo" and "Loaded" in loaded["status"]
    assert loaded["training.learning_rate"] == values["training.learning_rate"]
    assert "⚠" in train_tab.load_recipe({"recipe_pick": str(studio_home / "missing.yaml")})["status"]


def test_method_switch_on_shipped_data_loads_matching_recipe():
    values = recipes.values_from_config(recipes.load_recipe_config(recipes.DEMO_RECIPE), recipes.ALL_KEYS)
    out = train_tab.change_method({**values, "method": "sft"})
    assert out["data.source"].endswith("chat_sft.jsonl") and out["method"] == "sft"
    assert "SFT" in out["advice"] and out["options-dpo"]["visible"] is False  # DPO's own options hide


def test_method_switch_on_the_users_data_applies_the_methods_learning_rate():
    sft = recipes.load_recipe_config(recipes.SHIPPED_RECIPE["sft"])
    values = recipes.values_from_config(sft, recipes.ALL_KEYS)
    values["data.source"] = "/my/own/pairs.jsonl"  # not shipped: the data stays, the rate follows the method
    to_dpo = train_tab.change_method({**values, "method": "dpo"})
    assert "data.source" not in to_dpo and to_dpo["training.learning_rate"] == 5e-6
    assert train_tab.change_method({**values, "method": "sft"})["training.learning_rate"] == 2e-4


def test_zero_in_an_optional_limit_means_none():
    cfg = recipes.load_recipe_config(recipes.SHIPPED_RECIPE["sft"])
    values = recipes.values_from_config(cfg, recipes.ALL_KEYS)
    values.update({"training.max_steps": 0, "data.max_rows": 0})
    again = recipes.config_from_values(cfg.to_dict(), values).validate()
    assert again.training.max_steps is None and again.data.max_rows is None


def test_start_with_a_bad_value_is_a_sentence(monkeypatch):
    called = []
    monkeypatch.setattr("studio.runs.start_run", lambda cfg, **_: called.append(cfg))
    values = recipes.values_from_config(recipes.load_recipe_config(recipes.DEMO_RECIPE), recipes.ALL_KEYS)
    values["training.learning_rate"] = -1
    out = train_tab.start_training(values)
    status = out["status"]
    assert "run" not in out and status.startswith("⚠") and "Learning rate" in status and not called


def test_start_hands_the_config_to_the_run_registry(monkeypatch):
    seen = []

    def fake_start(cfg, **consent):  # allow_code, how: the run's code consent (tests/test_safety.py)
        seen.append(cfg)
        return types.SimpleNamespace(id="r1", name="pineapple-dpo", state="queued", method="dpo")

    monkeypatch.setattr("studio.runs.start_run", fake_start)
    monkeypatch.setattr(run_picker, "list_runs_safe", list)
    values = recipes.values_from_config(recipes.load_recipe_config(recipes.DEMO_RECIPE), recipes.ALL_KEYS)
    out = train_tab.start_training(values)
    update, status = out["run"], out["status"]
    assert update["value"] == "r1" and "queued" in status
    assert Path(seen[0].data.source).is_file()


def test_stop_and_resume_without_a_run_say_so():
    assert "No run" in train_tab.stop_training(None)
    assert "No run" in train_tab.resume_training({"run": None})["status"]


# ---- the live view -------------------------------------------------------------------------------
DPO_RECORDS = [{"step": s, "loss": 0.7 - 0.1 * s, "rewards/margins": 0.5 * s, "rewards/accuracies": 1.0,
                "logps/chosen": -20.0 + s, "logps/rejected": -20.0 - s} for s in (1, 2, 3)]


def test_metric_frames_for_dpo():
    frames = charts.metric_frames(DPO_RECORDS + [{"step": 3, "train_runtime": 12.0}], "dpo")
    assert list(frames["loss"]["step"]) == [1, 2, 3]
    (rewards_chart, rewards), (_, logps) = frames["charts"]
    assert "reward" in rewards_chart.title.lower()
    assert set(rewards["series"]) == {"reward margin", "reward accuracy"}
    assert set(logps["series"]) == {"chosen", "rejected"}
    assert charts.metric_frames(DPO_RECORDS, "sft")["charts"] == []  # SFT declares no charts beside its loss


def _fake_registry(monkeypatch, tmp_path, records, state="running"):
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    info = types.SimpleNamespace(id="r1", dir=run_dir, name="demo", method="dpo", state=state,
                                 step=len(records),
                                 total=16, eta_s=42.0, message="training", started=1.0, updated=2.0)
    monkeypatch.setattr("studio.runs.get_run", lambda run_id: info)
    monkeypatch.setattr("studio.runs.read_metrics", lambda d: list(records))
    monkeypatch.setattr("studio.runs.tail_log", lambda d, lines=40: "step 3/16")
    monkeypatch.setattr("studio.runs.list_runs", lambda: [info])
    return info


def test_poll_sends_curves_only_when_a_step_was_logged(monkeypatch, tmp_path):
    records = list(DPO_RECORDS)
    _fake_registry(monkeypatch, tmp_path, records)
    bar, loss, rewards, _logps, log_text, seen, _tick = monitor.poll_run("r1", None)
    assert "Step <b class='studio-step'>3</b> / 16" in bar and "ETA 0:42" in bar
    assert len(loss) == 3 and len(rewards["value"]) == 6 and rewards["visible"] is True
    assert log_text == "step 3/16"
    again = monitor.poll_run("r1", seen)
    skip = gr.skip()
    # Nothing changed: nothing is re-sent, not even the progress line and the log (the browser would
    # render them again each second); the run is running, so the tick goes on.
    assert again[:5] == (skip, skip, skip, skip, skip) and again[-1] == skip, again
    records.append({"step": 4, "loss": 0.2})
    _fake_registry(monkeypatch, tmp_path, records)
    bar, loss, *_, log_text, seen, tick = monitor.poll_run("r1", again[-2])
    assert len(loss) == 4 and "Step <b class='studio-step'>4</b>" in bar and log_text == skip and tick == skip


def test_the_live_tick_rests_while_the_run_shown_is_idle_and_wakes_when_it_is_active(monkeypatch, tmp_path):
    info = _fake_registry(monkeypatch, tmp_path, DPO_RECORDS, state="stopped")
    *shown, seen, tick = monitor.poll_run("r1", None)  # the picker changed: all of it, and one more tick
    assert "stopped" in shown[0] and tick.active is True
    *sent, seen, tick = monitor.poll_run("r1", seen)  # nothing new since: the tick stops
    assert sent == [gr.skip()] * len(sent) and tick.active is False
    assert monitor.poll_run("r1", seen)[-1] == gr.skip()
    assert monitor.refresh_history(None, "r1")[-1] == gr.skip()  # idle: nothing to wake
    info.state = "running"  # resumed from the terminal: the history's slower tick wakes the live one
    assert monitor.refresh_history(None, "r1")[-1].active is True


def test_poll_without_a_run_and_history(monkeypatch, tmp_path):
    first = monitor.poll_run(None)
    assert "No run yet" in first[0] and first[-1].active is False
    assert monitor.poll_run(None, first[-2])[:-1] == (gr.skip(),) * (len(first) - 2) + (first[-2],)
    _fake_registry(monkeypatch, tmp_path, DPO_RECORDS, state="stopped")
    frame, *_ = monitor.refresh_history(None)
    assert list(frame["State"]) == ["stopped"] and frame["Step"][0] == "3/16"
    compared = monitor.compare_runs(["r1"])
    assert set(compared["series"]) == {"demo"} and len(compared) == 3
    assert monitor.attach_on_load()["value"] == "r1"


# ---- model tab -------------------------------------------------------------------------------------
def test_catalog_shows_badges_with_numbers():
    text = model_tab.catalog_html("small")
    assert "embedded" in text and "GiB" in text and "badge" in text
    assert "fits" in text


def test_load_model_reports_progress_then_summary(tiny_model_dir):
    lines = list(model_tab.load_model_status(str(tiny_model_dir)))
    assert lines[0].startswith("…") and lines[-1].startswith("✓") and "parameters" in lines[-1]


def test_load_missing_model_is_a_sentence(tmp_path):
    lines = list(model_tab.load_model_status(str(tmp_path / "nope")))
    assert lines[-1].startswith("⚠") and "does not exist" in lines[-1]


# ---- data tab ----------------------------------------------------------------------------------------
def test_preview_and_histogram_helpers():
    spans = data_report.preview_segments([[{"text": "Q", "trained": False},
                                           {"text": "A", "trained": True}]] * 2)
    assert ("A", "trained on") in spans and ("Q", None) in spans and len(spans) == 5
    frame = data_report.length_frame({"histogram": {"edges": [0, 10, 20], "counts": [3, 1]}})
    assert list(frame["rows"]) == [3, 1]
    frame = data_report.length_frame({"lengths": [5, 6, 30]})
    assert frame["rows"].sum() == 3
    frame = data_report.length_frame({"min": 40, "median": 44, "p95": 48, "max": 48, "max_length": 512})
    assert list(frame["tokens"]) == ["min", "median", "p95", "max", "max length"]
    problems = data_report.problems_frame([{"row": 2, "message": "missing 'rejected'"}])
    assert problems.iloc[0].tolist() == [3, "missing 'rejected'"]


def test_upload_is_kept_in_the_studio_home(tmp_path, studio_home):
    src = tmp_path / "mine.jsonl"
    src.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n')
    path, _status = data_tab.upload_file(str(src))
    assert Path(path).parent == studio_home / "uploads" and Path(path).read_text() == src.read_text()


def test_inspect_a_bad_file_lists_its_rows(tmp_path):
    import studio.data.inspect  # noqa: F401 - the data inspector this test drives
    bad = tmp_path / "bad.jsonl"
    rows = [{"prompt": "Is pineapple on pizza a crime?", "chosen": "No.", "rejected": "Yes."},
            {"prompt": "Missing rejected", "chosen": "No."},
            {"prompt": "Is pineapple on pizza a crime?", "chosen": "No.", "rejected": "Yes."}]
    bad.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{not json\n")
    out = data_tab.inspect_data({"data.source": str(bad), "data.split": "train", "data.template": "chatml",
                                 "method": "dpo"})
    summary, problems = out["summary"], out["problems"]
    assert problems["visible"] is True and len(problems["value"]) >= 1, summary
    assert "problem" in summary.lower()


# ---- chat, export, demo --------------------------------------------------------------------------
def _tiny_adapter_run(tmp_path, tiny_model_dir) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = tmp_path / "run"
    adapter = run_dir / "adapter"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(adapter)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(adapter)
    (adapter / "studio_base.json").write_text(json.dumps({"model": str(tiny_model_dir),
                                                          "base_model": "tiny"}))
    return run_dir


def test_before_after_shares_the_one_engine_with_the_chat(tmp_path, tiny_model_dir):
    """The demo's before/after and the Chat tab hold one copy of a base between them, and the answer
    streams piece by piece with a count of the tokens written so far."""
    from studio.chat.engine import shared
    from studio.chat.sampling import Sampling
    from studio.chat.sources import parse_source

    run_dir = _tiny_adapter_run(tmp_path, tiny_model_dir)
    engine = shared()
    engine.release()
    pair = model_slot.before_after(run_dir)
    assert pair.engine is engine and engine.loaded_bases() == 1
    assert model_slot.before_after(run_dir).model is pair.model  # picked again: nothing reloads
    engine.prepare(parse_source(str(tiny_model_dir)))  # what the Chat tab asks for its base
    assert engine.loaded_bases() == 1
    generation = pair.stream("Is pineapple on pizza a crime?", True, Sampling(max_new_tokens=6))
    pieces = list(generation)
    assert len(pieces) > 3 and 0 < generation.tokens <= 6 == generation.limit


def test_push_never_shows_the_token(monkeypatch):
    def boom(run_dir, repo_id, token, private, message):
        raise StudioError(f"The Hub refused token {token}.")

    monkeypatch.setattr("studio.publish.hub.push_adapter", boom)
    monkeypatch.setattr("studio.runs.get_run", lambda run_id: types.SimpleNamespace(dir="x"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert "No Hugging Face token" in export_tab.push_run("r1", "me/repo", True, "msg", "")
    status = export_tab.push_run("r1", "me/repo", True, "msg", "hf_secret123")
    assert "hf_secret123" not in status and "***" in status


def test_export_reports_where(monkeypatch, tmp_path):
    monkeypatch.setattr("studio.publish.hub.export_adapter", lambda run_dir, to, merge=False: Path(to))
    monkeypatch.setattr("studio.runs.get_run", lambda run_id: types.SimpleNamespace(dir="x"))
    assert str(tmp_path / "out") in export_tab.export_run("r1", str(tmp_path / "out"), False)
    assert "Pick" in export_tab.export_run(None, "", False)


def test_demo_pieces():
    assert len(demo_tab.demo_prompts()) == 4
    out = demo_tab.select_demo()
    assert out["recipe"]["method"] == "dpo" and out["method"] == "dpo" and out["options-dpo"]["visible"]
    html = demo_tab.answers_html([{"prompt": "p<", "before": "a", "after": "b"}])
    assert "p&lt;" in html and "class='after'" in html
    text = demo_tab.explanation(DPO_RECORDS, {"pairs": 8})
    assert "0.50 to 1.50" in text and "8 held-out pairs" in text
    table = demo_tab.eval_table({"base": {"accuracy": 0.5, "margin": 0.0, "chosen_logp": -3.0,
                                          "rejected_logp": -2.0},
                                 "tuned": {"accuracy": 1.0, "margin": 2.0, "chosen_logp": -1.0,
                                           "rejected_logp": -9.0}, "pairs": 8})
    assert table.shape == (4, 3)


def _fake_demo_registry(monkeypatch, tmp_path, tiny_model_dir, state="completed"):
    """A demo run as the registry reports it, whose folder holds a real adapter on the tiny model."""
    if not (tmp_path / "run" / "adapter").is_dir():
        _tiny_adapter_run(tmp_path, tiny_model_dir)
    info = _fake_registry(monkeypatch, tmp_path, DPO_RECORDS, state=state)
    info.name = "pineapple-dpo"
    monkeypatch.setattr("studio.runs.start_run", lambda cfg: info)
    # the tiny model's words mean nothing: keep them few
    monkeypatch.setattr(demo_tab, "DEMO_MAX_NEW_TOKENS", 4)
    result = {"base": {"accuracy": 0.0, "margin": 0.0, "chosen_logp": -60.0, "rejected_logp": -50.0},
              "tuned": {"accuracy": 1.0, "margin": 9.0, "chosen_logp": -40.0, "rejected_logp": -120.0},
              "pairs": 8}
    monkeypatch.setattr("studio.evaluation.pairs.evaluate", lambda *a, **k: result)
    return info


def test_demo_runs_answers_and_evaluates(monkeypatch, tmp_path, tiny_model_dir):
    _fake_demo_registry(monkeypatch, tmp_path, tiny_model_dir)
    steps = list(demo_tab.run_demo(poll_s=0))
    last = steps[-1]
    assert last["status"].startswith("✓") and "Demo finished" in last["status"]
    final_answers = [s["answers"] for s in steps if s.get("answers")][-1]
    assert final_answers.count("class='after'") == 4
    assert last["table"]["visible"] is True and len(last["table"]["value"]) == 4
    assert "reward margin" in last["explain"]
    # While it answers (all prompts side by side, one column at a time), the status says which side and
    # how many tokens so far.
    assert any(re.search(r"Answering the 4 held-out prompts after training: [1-4] of at most 4 tokens",
                         s.get("status", ""))
               for s in steps)


def test_demo_reattaches_only_to_an_active_demo_run(monkeypatch, tmp_path, tiny_model_dir):
    _fake_demo_registry(monkeypatch, tmp_path, tiny_model_dir, state="completed")
    assert list(demo_tab.reattach_demo(poll_s=0)) == [{}]  # nothing named: every output stays as it is
    info = _fake_demo_registry(monkeypatch, tmp_path, tiny_model_dir, state="running")
    states = iter(["running", "completed"])
    real = info

    def get_run(run_id):
        real.state = next(states, "completed")
        return real

    monkeypatch.setattr("studio.runs.get_run", get_run)
    steps = list(demo_tab.reattach_demo(poll_s=0))
    assert "Reattached" in steps[0]["status"] and "Demo finished" in steps[-1]["status"]


def test_failed_demo_run_is_a_sentence(monkeypatch, tmp_path, tiny_model_dir):
    info = _fake_demo_registry(monkeypatch, tmp_path, tiny_model_dir, state="failed")
    info.message = "Ran out of memory at step 3."
    status = list(demo_tab.run_demo(poll_s=0))[-1]["status"]
    assert status.startswith("⚠") and "Ran out of memory" in status


def test_the_rl_samples_panel_sends_a_new_group_once_and_its_timer_rests_when_the_run_is_idle(monkeypatch,
tmp_path):
    from studio.rl.samples import append_samples
    from studio.ui.samples_panel import poll_samples

    info = _fake_registry(monkeypatch, tmp_path, DPO_RECORDS)
    assert poll_samples("r1", None)[-1].active is False  # a DPO run samples nothing: no timer
    info.method = "rl"
    box, caption, table, seen, tick = poll_samples("r1", None)
    assert box["visible"] is False and tick.active is True  # running, nothing sampled yet
    append_samples(info.dir, [{"step": 2, "prompt": "q", "completion": a, "rewards": {"regex": r},
                               "advantage": v}
                              for a, r, v in (("No.", 1.0, 0.5), ("Yes.", 0.0, -0.5))])
    box, caption, table, seen, tick = poll_samples("r1", seen)
    assert box["visible"] is True and "2" in caption and table["Answer"].tolist() == ["No.", "Yes."]
    assert tick == gr.skip()
    assert poll_samples("r1", seen)[:3] == (gr.skip(),) * 3
    info.state = "completed"
    assert poll_samples("r1", seen)[-1].active is False
