"""The one model cache: chat, the RLHF vs DPO comparison, the export check and the server load a run's
base through it and find one object in one entry; two scorers of a reward run share one; a small budget
evicts the least recently used model and refuses one that cannot fit; `studio status` says what is held."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonl_files import write_jsonl

from studio.chat.engine import Engine, shared
from studio.chat.history import ChatError
from studio.chat.sources import parse_source
from studio.models.cache import ModelCache, cli_status, model_cache
from studio.runs.files import update_status

PROMPT = "Is pineapple on pizza a crime?"


def _adapter_run(root: Path, base: Path, *, reward: bool = False) -> Path:
    """A run folder with a LoRA adapter whose weights are not zero (so tuned differs from base)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from studio.models.loading import load_model, resolve_model

    run = root / ("reward-run" if reward else "policy-run")
    model = load_model(resolve_model(str(base)), kind="reward" if reward else "causal_lm")
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                      task_type="SEQ_CLS" if reward else "CAUSAL_LM")
    get_peft_model(model, lora).save_pretrained(run / "adapter")
    AutoTokenizer.from_pretrained(base).save_pretrained(run / "adapter")
    marker = {"model": str(base), "base_model": "tiny", "method": "reward" if reward else "dpo"}
    (run / "adapter" / "studio_base.json").write_text(json.dumps(marker))
    update_status(run, new=True, state="completed", name=run.name, method=marker["method"])
    return run


def _base_entries() -> list:
    return [e for e in model_cache().entries() if e.key.kind == "causal_lm"]


def test_every_loader_of_a_run_shares_one_copy_in_one_entry(tiny_model_dir, tmp_path, capsys):
    from studio.chat.before_after import BeforeAfter
    from studio.evaluation import rlhf_vs_dpo
    from studio.evaluation.reward import RewardModel
    from studio.publish.gguf import export_gguf
    from studio.publish.serve_engine import ServedModel

    policy = _adapter_run(tmp_path, tiny_model_dir)
    reward = _adapter_run(tmp_path, tiny_model_dir, reward=True)
    shared().release()
    chat_model = shared().model_for(parse_source(str(policy)))  # what the Chat tab asks for
    base = _base_entries()[0].value

    served = ServedModel(str(policy))  # the server's engine is its own, its models are not
    served.load()
    served.close()
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"prompt": PROMPT, "chosen": "No.", "rejected": "Yes."}])
    seen = []
    rlhf_vs_dpo.compare(reward, {"DPO": policy}, [PROMPT], pairs, max_new_tokens=2,
                        progress=lambda _msg: seen.append([e.value for e in _base_entries()]))
    assert BeforeAfter(policy).model is chat_model and seen[-1] == [base]

    scorer = RewardModel(reward)  # the score panel and `studio score` load it the same way
    assert RewardModel(reward).model is scorer.model
    assert [e.key.kind for e in model_cache().entries()].count("reward") == 1

    at_merge = []
    export_gguf(policy, tmp_path / "gguf", check_prompt=None, progress=lambda share, _msg: at_merge.append(
        [e.value for e in _base_entries()]) if share == 0.3 else None)
    assert at_merge == [[base]]  # the export loaded the very same copy, then took it out of the cache
    assert not _base_entries() and model_cache().peek(shared()._key(str(tiny_model_dir))) is None
    assert shared().model_for(parse_source(str(policy))) is not chat_model  # the next user loads afresh

    assert cli_status(type("Args", (), {"json": False})()) == 0
    out = capsys.readouterr().out
    assert "In memory:" in out and "tokenizer" in out and "reward-run (reward)" in out
    from studio.ui.make.memory_line import memory_line

    assert memory_line().startswith("Memory: In memory: ") and "reward-run (reward)" in memory_line()


def test_a_small_budget_evicts_the_least_recently_used_and_refuses_what_cannot_fit(tiny_model_dir, tmp_path,
                                                                                   monkeypatch):
    from tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "other-tiny", seed=1)
    cache = ModelCache(report=False)
    engine = Engine(cache=cache)
    first = engine.model_for(parse_source(str(tiny_model_dir)))
    size = cache.held_bytes()
    cache.set_budget(int(size * 1.5))  # room for one tiny model, not two
    engine.model_for(parse_source(str(other)))
    assert [e.key.what for e in cache.entries()] == [str(other)]
    assert engine.model_for(parse_source(str(tiny_model_dir))) is not first  # evicted, so loaded again
    assert [e.key.what for e in cache.entries()] == [str(tiny_model_dir)]

    cache.set_budget(None)
    monkeypatch.setenv("STUDIO_MODEL_BUDGET_GB", str(size / 2 / 2**30))  # the user's setting
    cache.evict()
    with pytest.raises(ChatError, match=r"^Loading .* GiB is free for models; .*STUDIO_MODEL_BUDGET_GB\.$"):
        engine.model_for(parse_source(str(other)))
    assert cache.entries() == []


def test_weights_and_tokenizers_are_loaded_only_under_studio_models():
    """Every ``from_pretrained`` outside the training side (its own copy) is in studio/models/, so the faces
    and evaluations reach weights only through it (and its cache); a new loader elsewhere fails here."""
    import re
    from pathlib import Path

    studio = Path(__file__).resolve().parent.parent / "studio"
    allowed = re.compile(r"^(models|training|methods)/|^runs/worker\.py$")
    named = {str(path.relative_to(studio)): path for path in sorted(studio.rglob("*.py"))}
    found = [name for name, path in named.items()
             if not allowed.match(name) and "from_pretrained(" in path.read_text("utf-8")]
    assert found == []
