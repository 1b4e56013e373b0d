"""The tokenized-data cache never serves rows made by other code: an upgraded tokenizing library or a new
studio data-preparation version gives another key, so the next run tokenizes afresh (a Hub dataset's
new commit is checked against a local Hub in tests/test_hub_paths.py)."""

from __future__ import annotations

from importlib import metadata

from studio.config import RunConfig
from studio.data.prepare import token_cache
from studio.training.train import data_cache_key, prepare


def _cfg(model_dir, data_file, run_dir) -> RunConfig:
    return RunConfig.from_dict({
        "method": "sft", "model": {"name": str(model_dir)},
        "data": {"source": str(data_file), "template": "chatml"},
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"max_steps": 2, "batch_size": 2, "max_length": 64},
        "output": {"dir": str(run_dir)},
    })


def test_a_changed_library_or_prep_version_misses_the_cache(tiny_model_dir, sft_file, tmp_path, monkeypatch):
    import datasets

    cfg = _cfg(tiny_model_dir, sft_file, tmp_path / "runs")
    data = prepare(cfg)[4]
    assert not data.prepared  # nothing cached yet
    token_cache.save(data.cache_key, datasets.Dataset.from_list([{"input_ids": [1, 2, 3]}] * 4), {
        "source": str(sft_file), "method": "sft", "kind": data.kind, "format": data.format,
        "data_rows": data.rows, "valid_rows": data.valid_rows})
    again = prepare(cfg)[4]
    assert again.cache_key == data.cache_key and again.prepared and len(again.dataset) == 4

    _, _, tokenizer, template, _, _ = prepare(cfg)

    def cached():  # what prepare() asks the cache, without loading the data and model again
        key = data_cache_key(cfg, tokenizer, template)
        return key, token_cache.load(key)

    versions = token_cache.library_versions()
    assert set(versions) == {"transformers", "trl", "datasets", "tokenizers"} and all(versions.values())
    real_version = metadata.version
    for library in token_cache.LIBRARIES:  # each library, upgraded alone, gives a miss
        monkeypatch.setattr(metadata, "version", lambda name,
                            lib=library: "99.0" if name == lib else real_version(name))
        key, hit = cached()
        assert key != data.cache_key and hit is None, library
    monkeypatch.setattr(metadata, "version", real_version)
    assert cached()[1] is not None  # back on the versions that made it: a hit again

    monkeypatch.setattr(token_cache, "PREP_VERSION", token_cache.PREP_VERSION + 1)
    key, hit = cached()
    assert key != data.cache_key and hit is None
    bumped = prepare(cfg)[4]  # and the run itself prepares its data afresh
    assert bumped.cache_key == key and not bumped.prepared


def test_a_hub_dataset_is_keyed_by_its_revision_when_the_hub_is_unreachable():
    # conftest sets HF_HUB_OFFLINE: no commit can be asked for, so the key holds the revision's name.
    identity = token_cache.source_identity("owner/pairs", "train", None)
    assert identity["hub"] == "owner/pairs" and identity["revision"] == "main" and "commit" not in identity
    assert token_cache.hub_commit("owner/pairs") is None
    assert token_cache.source_identity("owner/pairs", "train", None, "v2")["revision"] == "v2"
