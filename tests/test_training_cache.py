"""A cache hit hands the stored trainer-ready rows to each method's TRL trainer as prepared data.

Two runs of one recipe on a tiny model: the second reads no data (the token cache serves it), its
trainer is built on the stored rows through TRL's option for prepared data (SFTConfig
``skip_prepare_dataset``; RewardTrainer's own check; the preparation step of DPO, KTO, ORPO and CPO
passed through), and it trains to exactly the first run's loss.
"""

import pytest

from studio.config import RunConfig


def recipe(model_dir, data_file, method, run_dir, **sections):
    return RunConfig.from_dict({
        **sections, "method": method, "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"learning_rate": 1e-2, "max_steps": 1, "batch_size": 2, "max_length": 256,
                     "save_steps": 100},
        "output": {"dir": str(run_dir)},
    })


@pytest.mark.parametrize("method", ["sft", "reward", "dpo", "kto", "orpo", "simpo", "dpo-precompute"])
def test_a_second_run_trains_on_the_cached_rows_to_the_same_loss(method, tiny_model_dir, sft_file, pref_file,
                                                                  tmp_path):
    from studio.data.prepare.token_cache import entries
    from studio.data.prepare.token_cache import load as cached
    from studio.training.train import build_with_data, data_cache_key, prepare, train

    # dpo.precompute_ref: TRL adds the reference's log-probabilities to the rows; they depend on the model,
    # so the cache keeps the rows without them and the second trainer computes them again.
    method, extra = ("dpo", {"dpo": {"precompute_ref": True}}) if method == "dpo-precompute" else (method, {})
    data_file = sft_file if method == "sft" else pref_file
    first = train(recipe(tiny_model_dir, data_file, method, tmp_path / "r1", **extra), tmp_path / "r1")
    assert first["data_cached"] is False and first["global_step"] == 1
    [entry] = entries()

    said: list[str] = []
    cfg = recipe(tiny_model_dir, data_file, method, tmp_path / "r2", **extra)
    plan, _, tokenizer, template, data, model = prepare(cfg, said.append)
    assert data.prepared and not any(line.startswith("Loading data") for line in said)
    assert data.cache_key == entry["key"] == data_cache_key(cfg, tokenizer, template)
    stored, _ = cached(entry["key"])
    assert data.dataset.to_list() == stored.to_list()  # the rows the first trainer made, not stand-ins
    assert not any(c.startswith("ref_") for c in stored.column_names)
    trainer = build_with_data(cfg, tmp_path / "r2", model, tokenizer, data, plan, [], said.append)
    given = trainer.train_dataset
    if extra:
        assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(given.column_names)
        given = given.remove_columns(["ref_chosen_logps", "ref_rejected_logps"])
    assert given.to_list() == stored.to_list()  # given as they are, not tokenized again
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert result.training_loss == pytest.approx(first["train_loss"], rel=1e-5)
    assert len(entries()) == 1


def test_for_training_reads_the_cache_only_when_the_trainer_can_take_its_rows(tiny_model_dir, sft_file):
    from transformers import AutoTokenizer

    from studio.config import DataConfig
    from studio.data import for_training
    from studio.data.prepare.token_cache import entries

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    cfg = DataConfig(source=str(sft_file))

    def ask(cache=True, **settings):
        return for_training(cfg, "sft", tokenizer=tokenizer, template="chatml", take=4, seed=0,
                            settings=settings or {"max_length": 64}, cache=cache)

    first = ask()
    assert not first.prepared and len(first.dataset) == 4 and "messages" in first.dataset.column_names
    first.remember(first.dataset.map(lambda _: {"input_ids": [1, 2]}, remove_columns=["messages"]), "sft")
    again = ask()
    assert again.prepared and again.dataset["input_ids"] == [[1, 2]] * 4
    assert (again.format, again.rows) == (first.format, first.rows)
    assert not ask(max_length=32).prepared  # another setting, another entry
    unable = ask(cache=False)
    assert not unable.prepared and "messages" in unable.dataset.column_names
    unable.remember(unable.dataset, "sft")
    assert len(entries()) == 1
