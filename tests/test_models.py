"""Model resolution: the embedded GGUF converted once, local folders, and offline Hub ids."""

import json
from pathlib import Path

import pytest

from studio.models.loading import ModelError, load_model, load_tokenizer, resolve_model


def test_embedded_model_converts_once_and_chats_in_chatml():
    resolved = resolve_model("embedded")
    assert resolved.display_name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    folder = resolved.path
    assert resolve_model("embedded").path == folder  # cached: no second conversion
    tokenizer = load_tokenizer(resolved)
    model = load_model(resolved)
    assert 134_000_000 < sum(p.numel() for p in model.parameters()) < 135_000_000
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False,
                                         add_generation_prompt=True)
    # ChatML with the model's default system prompt when none is given.
    assert text.startswith("<|im_start|>system\n") and "SmolLM" in text
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    # The converted copy is a plain safetensors model (the GGUF-loaded one refuses to save).
    import os

    assert any(name.endswith(".safetensors") for name in os.listdir(folder))
    assert "quantization_config" not in json.loads(Path(folder, "config.json").read_text())


def test_local_folder_and_missing_paths(tiny_model_dir, tmp_path):
    assert resolve_model(str(tiny_model_dir)).is_local
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "no" / "such" / "folder"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_id_offline_is_one_sentence():
    resolved = resolve_model("someone/some-model")
    assert not resolved.is_local
    with pytest.raises(ModelError, match="Could not download the model 'someone/some-model'") as info:
        load_tokenizer(resolved)
    assert "embedded" in str(info.value)


def test_unreachable_hub_fails_fast(monkeypatch):
    import time

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(ModelError, match="Could not download"):
        load_model(resolve_model("someone/another-model"))
    assert time.monotonic() - started < 10


def test_inspecting_data_needs_only_the_tokenizer_not_the_weights(tmp_path, monkeypatch):
    """Where the install did not convert the built-in model, inspecting data reads the tokenizer out of the
    GGUF alone and leaves the weights' conversion (about a minute) to the first use that needs them."""
    from studio.data.inspect import inspect_source
    from studio.models import gguf_files as models  # where the conversion lives (loading re-exports it)
    from studio.paths import ASSETS_DIR

    monkeypatch.setattr(models, "INSTALLED_MODELS_DIR", tmp_path / "installed")
    monkeypatch.setenv("STUDIO_MODEL_CACHE", str(tmp_path / "cache"))
    gguf = models.embedded_gguf_path()
    assert not models.is_converted(gguf)
    report = inspect_source(str(ASSETS_DIR / "pineapple_pairs.jsonl"))
    assert report.model == models.EMBEDDED_ID and report.valid_rows > 0 and report.preview
    assert not models.is_converted(gguf)  # no weights were converted
    assert (models._tokenizer_cache_folder(gguf) / "tokenizer_config.json").is_file()
