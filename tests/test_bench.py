"""IFEval before and after (Google's checker from the installed wheel) and MT-Bench's questions."""

from __future__ import annotations

import json

import pytest

from studio.evaluation.bench import BenchError, pick_prompts, score_ifeval
from studio.evaluation.bench_data import ifeval_prompts, mtbench_questions


def one_instruction(instruction: str) -> dict:
    return next(r for r in ifeval_prompts() if r["instruction_id_list"] == [instruction])


def test_the_checker_scores_a_followed_and_a_broken_instruction():
    no_comma = one_instruction("punctuation:no_comma")
    lower = one_instruction("change_case:english_lowercase")
    rows = [no_comma, no_comma, lower]
    answers = ["A plain answer without that mark. It has two sentences.",
               "One, two, three.",
               "*\nthis is all lower case.\n*"]
    figures = score_ifeval(rows, answers)
    assert figures["prompts"] == 3 and figures["instructions"] == 3
    assert figures["prompt_strict"] == figures["inst_strict"] == pytest.approx(100 * 2 / 3, abs=0.1)
    assert figures["prompt_loose"] == figures["inst_loose"] == pytest.approx(100 * 2 / 3, abs=0.1)


def test_the_sentence_counter_uses_punkt_with_its_english_abbreviations():
    import nltk

    from studio.evaluation.bench_data import ifeval_checker

    ifeval_checker()  # writes punkt_tab once and puts it on nltk's path
    assert nltk.sent_tokenize("Dr. Smith went home. He slept.") == ["Dr. Smith went home.", "He slept."]


def test_the_subset_is_seeded_and_the_data_is_complete():
    rows = ifeval_prompts()
    assert len(rows) == 541
    assert pick_prompts(rows, 50) == pick_prompts(rows, 50) != pick_prompts(rows, 50, seed=1)
    assert len(pick_prompts(rows, 50)) == 50
    with pytest.raises(BenchError, match="at least 1"):
        pick_prompts(rows, 0)
    questions = mtbench_questions()
    assert len(questions) == 80 and len({q["category"] for q in questions}) == 8
    assert all(len(q["turns"]) == 2 for q in questions)


def test_bench_answers_with_the_adapter_off_and_on_and_saves_the_figures(tiny_model_dir, tmp_path, capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from studio.cli import main
    from studio.evaluation.bench import load_saved

    # A run folder with an adapter whose LoRA weights are not zero, so "tuned" truly differs from "base".
    run = tmp_path / "run"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                                      init_lora_weights=False))
    model.save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(run / "adapter")
    (run / "adapter" / "studio_base.json").write_text(json.dumps({"model": str(tiny_model_dir),
                                                                  "base_model": "tiny"}))
    assert main(["bench", str(run), "--task", "ifeval", "--limit", "3", "--max-new-tokens", "8",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["prompts"] == 3
    for side in ("base", "tuned"):
        assert set(result[side]) >= {"prompt_strict", "prompt_loose", "inst_strict", "inst_loose", "prompts"}
        assert all(0 <= result[side][k] <= 100 for k in ("prompt_strict", "inst_loose"))
        assert result[side]["prompt_strict"] <= result[side]["prompt_loose"]
    assert load_saved(run)["ifeval"] == result

    # The app's way: a background job whose progress and figures are read back from the run folder.
    from studio.evaluation.bench import read_progress, start_background
    from studio.runs.files import update_status
    from studio.ui.judge import bench_panel

    update_status(run, new=True, id=run.name, state="completed", method="sft")
    start_background(run, limit=2, max_new_tokens=4).join()
    assert read_progress(run) == {"state": "done", "done": 4, "total": 4, "message": "Done."}
    line, table = bench_panel.show(str(run))
    assert line == "" and "IFEval on 2 prompts" in table and "| prompt strict |" in table
    # The panel's timer re-sends only what changed since its last tick.
    import gradio as gr

    progress, result, shown, tick = bench_panel.show_changes(str(run), None)
    assert (progress, result) == (line, table) and tick.active is False  # done: the timer rests
    assert bench_panel.show_changes(str(run), shown) == (gr.skip(), gr.skip(), shown, gr.skip())
