"""Prompting a chat model on a labelled test set: k-shot draws balanced and seeded, the label chosen by the
log-likelihood of its words (checked against the model's own logits), calibration dividing out the bias, and
`studio prompt --json` printing the keys `studio eval` prints."""

from __future__ import annotations

import json

import pytest
from tiny_encoder import sentiment_rows, write_jsonl
from tiny_model import build_tiny_model

from studio.cli import main
from studio.data.layouts.labelled import read_labelled
from studio.evaluation import prompting


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny")


def test_shots_are_balanced_by_label_and_seeded(tmp_path):
    rows = [{"text": f"g{i}", "label": "good"} for i in range(10)] + [{"text": "b0", "label": "bad"},
                                                                     {"text": "b1", "label": "bad"}]
    train = read_labelled(write_jsonl(tmp_path / "t.jsonl", rows))
    four = prompting.draw_shots(train, 4, seed=3)
    assert sorted(label for _, label in four) == ["bad", "bad", "good", "good"]
    assert four == prompting.draw_shots(train, 4, seed=3) and four != prompting.draw_shots(train, 4, seed=4)


def test_the_label_score_is_the_log_likelihood_of_its_tokens(chat_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = AutoModelForCausalLM.from_pretrained(chat_model), AutoTokenizer.from_pretrained(chat_model)
    prompt = "the film was great //"
    scores = prompting.label_log_likelihoods(model, tokenizer, prompt, ["good", "bad"], spaced=True)
    ids = tokenizer(prompt + " bad", add_special_tokens=False, return_tensors="pt")["input_ids"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = model(ids).logits.log_softmax(-1)[0]
    expected = sum(float(logprobs[p - 1, ids[0, p]]) for p in range(n_prompt, ids.shape[1]))
    assert scores[1] == pytest.approx(expected, abs=1e-4)
    bias = prompting.probabilities([-1.0, -3.0])
    assert prompting.calibrate(bias, bias) == pytest.approx([0.5, 0.5])  # the content-free input: no preference


def test_studio_prompt_prints_the_keys_studio_eval_prints(chat_model, tmp_path, capsys):
    test = write_jsonl(tmp_path / "test.jsonl", sentiment_rows(6, seed=1))
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(12))
    assert main(["prompt", str(chat_model), "--data", str(test), "--examples", str(train), "--shots", "2",
                 "--calibrate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_class", "labels", "confusion"} <= set(report)
    assert report["labels"] == ["bad", "good"] and sum(map(sum, report["confusion"])) == 6
    assert (report["shots"], report["calibrated"], report["trainable_params"]) == (2, True, 0)
    assert main(["prompt", str(chat_model), "--data", str(test), "--shots", "2"]) == 2
    assert "draws its examples from a training file" in capsys.readouterr().err
