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

    model = AutoModelForCausalLM.from_pretrained(chat_model)
    tokenizer = AutoTokenizer.from_pretrained(chat_model)
    prompt = "the film was great //"
    scores = prompting.label_log_likelihoods(model, tokenizer, prompt, ["good", "bad"], spaced=True)
    ids = tokenizer(prompt + " bad", add_special_tokens=False, return_tensors="pt")["input_ids"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = model(ids).logits.log_softmax(-1)[0]
    expected = sum(float(logprobs[p - 1, ids[0, p]]) for p in range(n_prompt, ids.shape[1]))
    assert scores[1] == pytest.approx(expected, abs=1e-4)
    bias = prompting.probabilities([-1.0, -3.0])
    # the content-free input: no preference
    assert prompting.calibrate(bias, bias) == pytest.approx([0.5, 0.5])


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


def test_a_generated_answer_is_read_for_a_label_and_one_naming_none_counts_as_wrong(chat_model, tmp_path,
                                                                                   capsys):
    from studio.evaluation.prompt_answers import generated_answer, label_in_answer

    labels = ["bad", "good", "not good"]
    assert label_in_answer(" Good.\nbad", labels) == 1 and label_in_answer("The film: BAD, not good",
                                                                           labels) == 0
    assert label_in_answer("not good at all", labels) == 2 and label_in_answer("goodness", labels) is None
    test = write_jsonl(tmp_path / "test.jsonl", sentiment_rows(6, seed=1))
    assert main(["prompt", str(chat_model), "--data", str(test), "--answer", "generate", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(chat_model)
    tokenizer = AutoTokenizer.from_pretrained(chat_model)
    data = read_labelled(test)
    named = [label_in_answer(generated_answer(model, tokenizer, prompting.build_prompt(
        tokenizer, data.labels, [], item, prompting.PromptSettings())), data.labels) for item in data.inputs]
    right = sum(n == gold for n, gold in zip(named, data.targets, strict=True))
    assert report["answer"] == "generate" and report["no_label"] == sum(n is None for n in named)
    assert report["accuracy"] == round(right / 6, 4) and sum(map(sum, report["confusion"])) == 6
    if report["no_label"]:  # the untrained model's words: counted in their own column, never as a label
        assert report["labels"][-1] == prompting.NO_LABEL
        assert sum(r[-1] for r in report["confusion"]) == report["no_label"]
    assert main(["prompt", str(chat_model), "--data", str(test), "--answer", "generate", "--calibrate"]) == 2
    assert "needs answer likelihood" in capsys.readouterr().err
