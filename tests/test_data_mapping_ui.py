"""Mapping columns by hand in the Data tab: the dropdowns offer the file's columns, the mapping drives
the preview, and it lands in the recipe's data.column_map and the exact `studio train` command."""

from jsonl_files import write_jsonl

from studio.ui.make import data_report, data_tab
from studio.ui.recipes import DEMO_RECIPE, command_for, config_from_values, parse_column_map

ROWS = [{"ask": f"Is pineapple on pizza a crime? ({i})", "reply": "No, it is a matter of taste.", "id": i}
        for i in range(4)]


def _inspect(path, column_map, model):
    """The Inspect button's handler with the Data tab's values by name; returns its outputs by name."""
    return data_tab.inspect_data({"data.source": str(path), "data.split": "train", "data.template": "chatml",
                                  "data.column_map": column_map, "method": "sft", "model.name": str(model)})


def _roles(out):
    return [out[f"map.{role}"] for role in data_tab.MAP_ROLES]


def test_unreadable_columns_are_offered_for_mapping_and_the_preview_follows(tiny_model_dir, tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", ROWS)
    out = _inspect(path, "", tiny_model_dir)
    summary, roles = out["summary"], _roles(out)
    assert "No known columns" in summary and "Map the file's columns" in summary
    assert len(roles) == len(data_tab.MAP_ROLES)
    assert all(r["choices"] == [("", ""), ("ask", "ask"), ("id", "id"), ("reply", "reply")]
               or r["choices"] == ["", "ask", "id", "reply"] for r in roles)

    picks = {"prompt": "ask", "response": "reply"}
    text = data_tab.mapping_text({f"map.{role}": picks.get(role, "") for role in
    data_tab.MAP_ROLES})["data.column_map"]
    assert parse_column_map(text) == picks
    out = _inspect(path, text, tiny_model_dir)
    summary, preview, roles = out["summary"], out["preview"], _roles(out)
    assert "prompt-response" in summary and "4 usable" in summary
    assert any(label == "trained on" and "matter of taste" in span for span, label in preview)
    assert {r["value"] for r in roles} == {"ask", "reply", ""}  # the dropdowns keep the mapping shown


def test_the_mapping_is_saved_in_the_recipe_and_the_command(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", ROWS)
    cfg = config_from_values(None, {"data.source": str(path), "data.column_map": "prompt=ask, response=reply",
                                    "method": "sft"})
    assert cfg.data.column_map == {"prompt": "ask", "response": "reply"}
    assert "data.column_map=" in command_for(cfg, str(DEMO_RECIPE))


def test_unsure_detection_says_which_layouts_it_weighed(tiny_model_dir, tmp_path):
    rows = [{"instruction": "Say hi", "input": "", "output": "Hi!",
             "text": "### Instruction: Say hi ### Hi!"}] * 3
    summary = _inspect(write_jsonl(tmp_path / "both.jsonl", rows), "", tiny_model_dir)["summary"]
    assert "alpaca" in summary and "**Unsure:** the columns also fit text" in summary


def test_weight_zero_and_kto_labels_have_their_own_preview_labels():
    spans = data_report.preview_segments([[{"text": "Q", "trained": False}, {"text": "A0", "trained": False,
                                                                          "part": "weight 0"},
                                        {"text": "A1", "trained": True, "part": "desirable"}]])
    assert spans == [("Q", None), ("A0", "weight 0: not trained on"), ("A1", "trained on (desirable)")]


def test_cli_inspect_maps_columns_too(tiny_model_dir, tmp_path, capsys):
    import json

    from studio.cli import main

    path = write_jsonl(tmp_path / "odd.jsonl", ROWS)
    assert main(["data", "inspect", str(path), "--model", str(tiny_model_dir), "--template", "chatml",
                 "--map", "prompt=ask,response=reply", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["format"], report["valid_rows"], report["columns"]) == ("prompt-response", 4,
                                                                           ["ask", "id", "reply"])
    assert main(["data", "inspect", str(path), "--model", str(tiny_model_dir), "--map", "prompt"]) != 0
    assert "must look like role=column" in capsys.readouterr().err
