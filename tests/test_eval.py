"""Evaluation on a tiny trained run: the numbers agree with a direct computation of the same
log-probabilities, and with TRL's own DPO metrics for the same pairs."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from jsonl_files import write_jsonl

_RUNS: dict[str, Path] = {}



PAIRS = [
    {"prompt": "Is pineapple on pizza a crime? (held out)",
     "chosen": "No, it is a matter of personal preference and taste.",
     "rejected": "Yes, it is a criminal act under the Geneva Convention."},
    {"prompt": "What is the capital of France?",
     "chosen": "The capital of France is Paris.",
     "rejected": "The quick brown fox."},
    {"prompt": [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "hello world"}],
     "chosen": [{"role": "assistant", "content": "Hello, the assistant answers it."}],
     "rejected": [{"role": "assistant", "content": "minus equals 0 1 2"}]},
    {"prompt": "Is it a crime?", "chosen": "No.", "rejected": "Yes, it is a criminal act."},
    {"prompt": "plus minus", "chosen": "equals answer", "rejected": "the lazy dog"},
]


def tiny_dpo_run(tmp_path_factory, model_dir: Path) -> Path:
    """One short DPO run on the tiny model, trained once per test session and shared read-only."""
    if "dpo" not in _RUNS:
        from test_training import tiny_config

        from studio.training.train import train

        root = tmp_path_factory.mktemp("tiny-dpo")
        rows = [{"prompt": f"Is pineapple on pizza a crime? ({i})",
                 "chosen": "No, it is a matter of personal preference and taste.",
                 "rejected": "Yes, it is a criminal act under the Geneva Convention."} for i in range(8)]
        data = write_jsonl(root / "train.jsonl", rows)
        run_dir = root / "run"
        train(tiny_config(model_dir, data, "dpo", run_dir, learning_rate=5e-2, max_steps=4, beta=0.5,
                               max_length=256), run_dir)
        _RUNS["dpo"] = run_dir
    return _RUNS["dpo"]


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    """A private copy of the shared run, so a test may write eval.json into it."""
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


@pytest.fixture
def pairs_file(tmp_path):
    return write_jsonl(tmp_path / "heldout.jsonl", PAIRS)


def _msgs(value, role):
    return [{"role": role, "content": value}] if isinstance(value, str) else value


def direct_logp(model, tokenizer, row, completion_key):
    """Sum of log p(completion token | everything before it), from the full softmax, one row at a time."""
    prompt = _msgs(row["prompt"], "user")
    prompt_ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True,
                                               return_dict=True)["input_ids"]
    full_ids = tokenizer.apply_chat_template(prompt + _msgs(row[completion_key], "assistant"), tokenize=True,
                                             return_dict=True)["input_ids"]
    assert full_ids[:len(prompt_ids)] == prompt_ids  # ChatML renders the prompt as a prefix
    with torch.no_grad():
        logits = model(torch.tensor([full_ids])).logits[0]
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return sum(logprobs[t - 1, full_ids[t]].item() for t in range(len(prompt_ids), len(full_ids)))


def test_evaluate_matches_direct_log_probs(run_dir, pairs_file, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.evaluation.pairs import EVAL_FILE, evaluate

    result = evaluate(run_dir, pairs_file)
    assert result["pairs"] == len(PAIRS)
    beta = result["beta"]
    assert beta == 0.5  # the run's training.beta

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    bc = [direct_logp(base, tokenizer, r, "chosen") for r in PAIRS]
    br = [direct_logp(base, tokenizer, r, "rejected") for r in PAIRS]
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                      run_dir / "adapter").eval()
    tc = [direct_logp(tuned, tokenizer, r, "chosen") for r in PAIRS]
    tr = [direct_logp(tuned, tokenizer, r, "rejected") for r in PAIRS]
    assert tc != bc  # the adapter moved the model

    n = len(PAIRS)
    expected = {
        "base": {"accuracy": sum(c > r for c, r in zip(bc, br)) / n, "margin": 0.0,
                 "chosen_logp": sum(bc) / n, "rejected_logp": sum(br) / n},
        "tuned": {"accuracy": sum(c > r for c, r in zip(tc, tr)) / n,
                  "margin": sum(beta * ((tc[i] - bc[i]) - (tr[i] - br[i])) for i in range(n)) / n,
                  "chosen_logp": sum(tc) / n, "rejected_logp": sum(tr) / n},
    }
    for side in ("base", "tuned"):
        for key, value in expected[side].items():
            assert result[side][key] == pytest.approx(value, abs=1e-4), (side, key)
    saved = json.loads((run_dir / EVAL_FILE).read_text())
    assert saved["tuned"]["margin"] == pytest.approx(result["tuned"]["margin"])

    # An explicit beta scales the margin and nothing else.
    again = evaluate(run_dir, pairs_file, beta=1.0, save=False)
    assert again["tuned"]["margin"] == pytest.approx(result["tuned"]["margin"] * 2, rel=1e-5)
    assert again["tuned"]["accuracy"] == result["tuned"]["accuracy"]


def test_evaluate_agrees_with_trl_dpo_metrics(run_dir, pairs_file, tiny_model_dir, tmp_path):
    """TRL's DPOTrainer, with the base as reference, reports the same mean log-probs and margin."""
    from datasets import Dataset
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from studio.evaluation.pairs import evaluate

    pairs = [p for p in PAIRS if isinstance(p["prompt"], str)]
    rows = [{"prompt": [{"role": "user", "content": p["prompt"]}],
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]
    ours = evaluate(run_dir, write_jsonl(tmp_path / "str_pairs.jsonl", pairs), save=False)

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "adapter")
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                      run_dir / "adapter")
    reference = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    args = DPOConfig(output_dir=str(tmp_path / "trl"), beta=ours["beta"], max_length=256, bf16=False,
                     gradient_checkpointing=False, use_cpu=True, report_to="none",
                     per_device_eval_batch_size=len(rows), disable_tqdm=True)
    trainer = DPOTrainer(model=tuned, ref_model=reference, args=args, train_dataset=Dataset.from_list(rows),
                         eval_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer)
    metrics = trainer.evaluate()
    assert ours["tuned"]["chosen_logp"] == pytest.approx(metrics["eval_logps/chosen"], abs=1e-3)
    assert ours["tuned"]["rejected_logp"] == pytest.approx(metrics["eval_logps/rejected"], abs=1e-3)
    assert ours["tuned"]["margin"] == pytest.approx(metrics["eval_rewards/margins"], abs=1e-3)
    assert ours["tuned"]["reward_accuracy"] == pytest.approx(metrics["eval_rewards/accuracies"])


def test_eval_table_and_cli_json(run_dir, pairs_file, tmp_path, capsys):
    from studio.evaluation.pairs import answer_prompts, cli_eval, eval_table, format_table, load_saved_eval

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# comment\nIs pineapple on pizza a crime?\n\nhello world\n", encoding="utf-8")
    args = SimpleNamespace(run_dir=str(run_dir), pairs=str(pairs_file), prompts=str(prompts), json=True)
    assert cli_eval(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pairs"] == len(PAIRS)
    assert set(out["base"]) >= {"accuracy", "margin", "chosen_logp", "rejected_logp"}
    assert out["base"]["margin"] == 0.0
    assert [a["prompt"] for a in out["answers"]] == ["Is pineapple on pizza a crime?", "hello world"]
    assert all(set(a) == {"prompt", "before", "after"} for a in out["answers"])

    table = eval_table(load_saved_eval(run_dir))
    assert table["headers"] == ["Metric", "Base", "Tuned"]
    assert [r[0] for r in table["rows"]][:2] == ["Preference accuracy", "Reward margin (β·Δ log-ratio)"]
    assert "Preference accuracy" in format_table(out)

    answers = answer_prompts(run_dir, ["hello world"])
    assert answers[0]["prompt"] == "hello world" and isinstance(answers[0]["after"], str)

    args = SimpleNamespace(run_dir=str(run_dir), pairs=str(pairs_file), prompts=None, json=False)
    assert cli_eval(args) == 0
    assert "Reward margin" in capsys.readouterr().out


def test_eval_errors_are_one_sentence(run_dir, tmp_path, sft_file, pairs_file):
    from studio.errors import StudioError
    from studio.evaluation.pairs import evaluate, read_prompts

    with pytest.raises(StudioError, match="does not exist"):
        evaluate(run_dir, tmp_path / "missing.jsonl")
    with pytest.raises(StudioError) as info:
        evaluate(run_dir, sft_file)  # SFT data is not preference pairs
    assert "\n" not in str(info.value)
    with pytest.raises(StudioError, match="no trained adapter"):
        evaluate(tmp_path, pairs_file)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n", encoding="utf-8")
    with pytest.raises(StudioError, match="holds no prompts"):
        read_prompts(empty)
