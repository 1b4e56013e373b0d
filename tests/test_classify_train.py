"""Classify runs on a tiny locally built BERT, trained by transformers' Trainer through studio.training.train:
what each strategy changes and what it leaves bit-identical, what the run folder holds, and the CLI's eval
and predict on the saved classifier (the figures must equal the ones training wrote)."""

from __future__ import annotations

import csv
import json

import pytest
from tiny_encoder import build_tiny_encoder, sentiment_rows, write_jsonl

from studio.cli import main
from studio.config import RunConfig
from studio.training.train import train


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return build_tiny_encoder(tmp_path_factory.mktemp("encoder") / "bert")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return (write_jsonl(folder / "train.jsonl", sentiment_rows(24)),
            write_jsonl(folder / "eval.jsonl", sentiment_rows(8, seed=1)))


def weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def run(encoder, files, folder, strategy, **training):
    cfg = RunConfig.from_dict({
        "method": "classify", "model": {"name": str(encoder)},
        "data": {"source": str(files[0]), "eval_source": str(files[1])}, "lora": {"r": 2, "alpha": 4},
        "training": {"num_epochs": 1, "batch_size": 8, "max_length": 16, "learning_rate": 5e-3,
                     "save_steps": 100,
                     **training},
        "classify": {"train": strategy}}).validate()
    return train(cfg, folder)


@pytest.fixture(scope="module")
def runs(encoder, files, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {s: (root / s, run(encoder, files, root / s, s)) for s in ("head", "full", "lora")}


def test_head_only_leaves_every_encoder_weight_bit_identical_and_trains_the_head(encoder, runs):
    import torch

    before, (folder, summary) = weights(encoder), runs["head"]
    after = weights(folder / "model")
    # BertModel's keys; the classifier's are prefixed
    body = [k for k in before if not k.startswith("pooler")]
    assert body and all(torch.equal(before[k], after[f"bert.{k}"]) for k in before)
    assert summary["trainable_params"] == sum(after[k].numel() for k in after if k.startswith("classifier."))
    from transformers import AutoModelForSequenceClassification

    # the seeded, untrained head
    fresh = AutoModelForSequenceClassification.from_pretrained(encoder, num_labels=2)
    assert fresh.classifier.weight.shape == after["classifier.weight"].shape
    saved = json.loads((folder / "eval.json").read_text())
    assert saved["before"]["examples"] == 8 and saved["after"]["labels"] == ["bad", "good"]
    on_disk = json.loads((folder / "summary.json").read_text())  # what the comparison view and the card read
    assert on_disk["trainable_params"] == summary["trainable_params"] < on_disk["total_params"]
    assert on_disk["seconds"] > 0 and on_disk["seconds"] >= on_disk["train_seconds"] >= 0


def test_full_changes_the_encoder_and_lora_saves_its_head_beside_the_adapter(encoder, runs):
    import torch

    before = weights(encoder)
    full = weights(runs["full"][0] / "model")
    assert not torch.equal(before["encoder.layer.0.attention.self.query.weight"],
                           full["bert.encoder.layer.0.attention.self.query.weight"])
    from safetensors.torch import load_file

    adapter = load_file(str(runs["lora"][0] / "adapter" / "adapter_model.safetensors"))
    assert any("lora_A" in k for k in adapter) and any("classifier" in k and "lora" not in k for k in adapter)
    counts = [runs[s][1]["trainable_params"] for s in ("head", "lora", "full")]
    assert counts == sorted(counts) and len(set(counts)) == 3
    assert runs["full"][1]["trainable_params"] == runs["full"][1]["total_params"]


@pytest.mark.parametrize("strategy", ["head", "lora"])
def test_studio_eval_and_predict_reload_the_classifier_with_the_figures_training_wrote(runs, files, tmp_path,
                                                                                      capsys, strategy):
    folder = runs[strategy][0]
    assert main(["eval", str(folder), "--data", str(files[1]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    trained = json.loads((folder / "eval.json").read_text())["after"]
    assert {k: report[k] for k in ("accuracy", "macro_f1", "per_class", "labels", "confusion")} == \
        {k: trained[k] for k in ("accuracy", "macro_f1", "per_class", "labels", "confusion")}
    assert main(["predict", str(folder), "--text", "the food was great", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["label"] in ("bad", "good") and abs(sum(answer["probabilities"].values()) - 1) < 1e-3
    out = tmp_path / "labelled.csv"
    assert main(["predict", str(folder), "--file", str(files[1]), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8 and {r["predicted"] for r in rows} <= {"bad", "good"}


def test_predict_refuses_a_folder_without_a_classifier_in_one_sentence(capsys, tmp_path):
    assert main(["predict", str(tmp_path), "--text", "x"]) == 2
    assert "holds no trained classifier" in capsys.readouterr().err


def test_token_labelling_trains_on_first_subwords_and_reports_entity_f1(encoder, tmp_path):
    rows = [{"tokens": ["alice", "met", "bob", "in", "paris"], "tags": ["B-PER", "O", "B-PER", "O", "B-LOC"]},
            {"tokens": ["bob", "met", "alice", "in", "london"],
             "tags": ["B-PER", "O", "B-PER", "O", "B-LOC"]}] * 4
    data = write_jsonl(tmp_path / "ner.jsonl", rows)
    summary = run(encoder, (data, data), tmp_path / "ner", "lora")
    report = json.loads((tmp_path / "ner" / "eval.json").read_text())["after"]
    assert summary["task"] == "tokens" and summary["labels"] == ["B-LOC", "B-PER", "O"]
    assert 0 <= report["entity_f1"] <= 1 and report["examples"] == 40  # one figure per word, not per sub-word


def test_the_try_panel_and_the_comparison_view_show_a_registered_run(runs, files):
    import shutil

    from studio.evaluation import prompting
    from studio.paths import runs_dir
    from studio.runs.files import update_status
    from studio.ui.judge import classify_try
    from studio.ui.learn import classify_compare

    folder = runs_dir() / "clf-head"
    shutil.copytree(runs["head"][0], folder)
    update_status(folder, new=True, id="clf-head", name="clf", method="classify", state="completed")
    assert [c[1] for c in classify_try.classifier_choices()] == [str(folder)]
    shown = classify_try.label_it({"run": str(folder), "text": "the food was great", "text_b": ""})
    assert set(shown["probabilities"]) == {"bad", "good"} and shown["status"].startswith("✓")
    prompting.record({"model": "tiny-chat", "shots": 2, "format": "text", "calibrated": False, "seed": 0,
                      "accuracy": 0.5, "macro_f1": 0.3333, "majority_macro_f1": 0.3333, "examples": 8,
                      "seconds": 1.0, "examples_per_second": 8.0, "warning": None}, str(files[1]))
    assert classify_compare.test_choices() == [str(files[1].resolve())]
    view = classify_compare.show({"test": str(files[1])})
    table = view["table"]
    assert list(table["Way"]) == ["prompting", "fine-tuned"] and table["Trainable parameters"].iloc[0] == 0
    assert table["Macro-F1"].iloc[1] == json.loads((folder / "eval.json").read_text())["after"]["macro_f1"]
    from studio.ui.make.classify_data import labelled_summary

    summary = labelled_summary(str(files[0]), str(runs["full"][0] / "model"), 8,
                               ["row", "problem"])["summary"]
    assert "text classification: 24 examples" in summary and "longer than 8 (cut)" in summary


def test_a_classify_run_goes_through_the_worker_like_any_run(encoder, files):
    import time

    from studio import runs as lifecycle

    cfg = RunConfig.from_dict({
        "method": "classify", "model": {"name": str(encoder)}, "data": {"source": str(files[0])},
        "training": {"max_steps": 2, "batch_size": 8, "max_length": 16, "save_steps": 100},
        "classify": {"train": "head"}})
    info = lifecycle.start_run(cfg)
    deadline = time.time() + 300
    while (info := lifecycle.get_run(info.id)).state not in lifecycle.FINAL_STATES and time.time() < deadline:
        time.sleep(0.2)
    assert info.state == "completed", (info.message, (info.dir / "log.txt").read_text()[-2000:])
    summary = json.loads((info.dir / "summary.json").read_text())
    assert summary["global_step"] == 2 and summary["trainable_params"] < summary["total_params"]
    lines = (info.dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines][:2] == [1, 2]


def test_an_exported_lora_classifier_loads_in_transformers_pipeline_with_the_runs_figures(runs, tmp_path,
                                                                                          capsys):
    from transformers import pipeline

    assert main(["export", str(runs["lora"][0]), "--to", str(tmp_path / "out")]) == 0
    result = json.loads(capsys.readouterr().out)
    trained = json.loads((runs["lora"][0] / "eval.json").read_text())["after"]
    assert result["check"]["same"] and result["check"]["macro_f1"] == trained["macro_f1"]
    assert result["pipeline_tag"] == "text-classification" and not (tmp_path / "out" /
    "adapter_config.json").exists()
    answer = pipeline("text-classification", model=str(tmp_path / "out"))("the food was great")[0]
    assert answer["label"] in ("bad", "good") and 0 < answer["score"] <= 1
    # never over its own files
    assert main(["export", str(runs["lora"][0]), "--to", str(tmp_path / "out")]) == 2
