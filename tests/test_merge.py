"""`studio merge`: PEFT's weighted merges of two tiny runs give exactly the combination asked for
(cat = the weighted sum of the parents' updates; linear 1,0 = the first parent), a ties merge is a run
that `studio chat` answers with and whose card names its parents, and refusals are one sentence."""

import json
import shutil

import pytest
from jsonl_files import write_jsonl
from test_eval import tiny_dpo_run


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_model_dir):
    from test_training import tiny_config

    from studio.training.train import train

    root = tmp_path_factory.mktemp("tiny-sft")
    rows = [{"messages": [{"role": "user", "content": f"What is the capital of France? ({i})"},
                          {"role": "assistant",
                           "content": "The capital of France is Paris."}]} for i in range(4)]
    data = write_jsonl(root / "chat.jsonl", rows)
    train(tiny_config(tiny_model_dir, data, "sft", root / "sft", learning_rate=5e-2, max_steps=2),
          root / "sft")
    return tiny_dpo_run(tmp_path_factory, tiny_model_dir), root / "sft"


def _deltas(tiny_model_dir, adapters: dict):
    """Every LoRA layer's weight update (B·A·scaling) for each named adapter, on one base."""
    from peft import PeftModel
    from peft.tuners.lora import LoraLayer
    from transformers import AutoModelForCausalLM

    names = list(adapters)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                      str(adapters[names[0]]), adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(str(adapters[name]), adapter_name=name)
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    assert layers
    return [{name: layer.get_delta_weight(name).detach() for name in names} for layer in layers]


def test_cat_is_the_weighted_sum_and_linear_one_zero_is_the_first_parent(two_runs, tiny_model_dir):
    import torch

    from studio.publish.merge import merge_runs

    a, b = two_runs
    cat = merge_runs([str(a), str(b)], method="cat", weights=[0.5, 0.25], name="cat")
    first = merge_runs([str(a), str(b)], method="linear", weights=[1.0, 0.0], name="first")
    assert json.loads((cat / "adapter" / "adapter_config.json").read_text())["r"] == 8  # ranks add up
    for layer in _deltas(tiny_model_dir, {"a": a / "adapter", "b": b / "adapter", "cat": cat / "adapter",
                                          "first": first / "adapter"}):
        assert layer["a"].abs().max() > 0 and layer["b"].abs().max() > 0
        assert torch.allclose(layer["cat"], 0.5 * layer["a"] + 0.25 * layer["b"], atol=1e-6)
        assert torch.allclose(layer["first"], layer["a"], atol=1e-6)


def test_a_ties_merge_is_a_run_that_chats_and_names_its_parents(two_runs, capsys):
    from studio.cli import main
    from studio.publish.card import build_model_card
    from studio.runs import list_runs

    a, b = two_runs
    assert main(["merge", str(a), str(b), "--method", "ties", "--density", "0.7", "--name", "pizza mix"]) == 0
    assert "studio chat" in capsys.readouterr().out
    (run,) = [r for r in list_runs() if r.name == "pizza mix"]
    assert run.state == "completed" and run.id == "pizza-mix"
    assert main(["chat", str(run.dir), "--prompt", "Is pineapple on pizza a crime?", "--json",
                 "--max-new-tokens", "8"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert answers["after"].strip() and answers["after"] != answers["before"]
    card = build_model_card(run.dir)
    assert "# pizza mix" in card and "## Merged from" in card and "density 0.7" in card
    assert f"| {a.name} | DPO | 4 | 1.0 |" in card and f"| {b.name} | SFT | 4 | 1.0 |" in card


def test_dare_ties_is_repeatable_with_its_seed(two_runs):
    from safetensors.torch import load_file

    from studio.publish.merge import merge_runs

    a, b = two_runs
    one, two = (merge_runs([str(a), str(b)], method="dare_ties", name=f"dare-{i}", seed=3) for i in (1, 2))
    w1, w2 = (load_file(str(p / "adapter" / "adapter_model.safetensors")) for p in (one, two))
    assert w1.keys() == w2.keys() and all((w1[k] == w2[k]).all() for k in w1)


def test_refusals_are_one_sentence(two_runs, tmp_path, capsys):
    from studio.cli import main

    a, b = two_runs
    other_base = shutil.copytree(b, tmp_path / "other-base")
    marker = other_base / "adapter" / "studio_base.json"
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "model": "HuggingFaceTB/SmolLM2-360M"}))
    wider = shutil.copytree(b, tmp_path / "wider")
    config = wider / "adapter" / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "r": 8}))
    cases = [([str(a), str(other_base)], "share a base model"),
             ([str(a), str(wider)], "use --method cat"),
             ([str(a), str(b), "--density", "0.5"], "--density prunes"),
             ([str(a), str(b), "--weights", "1,2,3"], "one weight per run"),
             ([str(a)], "at least two runs"),
             ([str(a), str(tmp_path / "nothing")], "not a run with an adapter")]
    for args, words in cases:
        assert main(["merge", *args, "--name", "x"]) == 2
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
    assert main(["merge", str(a), str(b), "--name", "twice"]) == 0
    assert main(["merge", str(a), str(b), "--name", "twice"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_the_merge_panel_merges_or_says_what_is_missing(two_runs):
    from studio.runs import get_run
    from studio.ui.share import merge_panel

    a, b = two_runs
    assert "at least two" in merge_panel.merge_selected([str(a)], "linear", "", None, "x")
    assert "numbers separated by commas" in merge_panel.merge_selected([str(a), str(b)], "linear", "1,x",
                                                                       None, "x")
    status = merge_panel.merge_selected([str(a), str(b)], "cat", "", None, "ui mix")
    assert status.startswith("✓") and get_run("ui-mix").state == "completed"
