"""The adapter alone as a llama.cpp LoRA GGUF: typed as an adapter with its alpha, one lora_a/lora_b
pair per adapted weight under llama.cpp's names, Llama's q/k row permutation applied to lora_b, and
read back so that B'·A' is exactly the converter's own transform of the adapter's update."""

import shutil

import numpy as np
import pytest
from test_eval import tiny_dpo_run

from studio.errors import StudioError


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


def test_lora_gguf_holds_the_adapter_in_llama_cpp_layout(run_dir, tmp_path, capsys):
    from gguf import GGUFReader
    from safetensors.torch import load_file

    from studio.cli import main

    assert main(["export", str(run_dir), "--to", str(tmp_path / "lora"), "--format", "gguf-lora"]) == 0
    assert "exact for every weight" in capsys.readouterr().out
    reader = GGUFReader(tmp_path / "lora" / "run-lora-f32.gguf")
    assert bytes(reader.fields["general.type"].parts[-1]).decode() == "adapter"
    assert float(reader.fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    weights = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    assert len(tensors) == len(weights) == 28  # 2 layers x 7 linear modules x (A, B)
    prefix = "base_model.model.model.layers.0."
    # v is stored as trained; q's rows are permuted as llama.cpp permutes the base's q weight.
    for module, gguf_name, permuted in (("self_attn.v_proj", "blk.0.attn_v.weight", False),
                                        ("self_attn.q_proj", "blk.0.attn_q.weight", True)):
        a, b = (weights[f"{prefix}{module}.lora_{x}.weight"].numpy() for x in "AB")
        assert np.array_equal(tensors[gguf_name + ".lora_a"], a)
        assert np.array_equal(tensors[gguf_name + ".lora_b"], b) is not permuted
        assert sorted(tensors[gguf_name + ".lora_b"].ravel().tolist()) == sorted(b.ravel().tolist())


def test_an_adapter_with_a_fully_trained_module_is_refused(run_dir, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    from studio.publish.gguf_lora import export_lora_gguf

    path = run_dir / "adapter" / "adapter_model.safetensors"
    weights = load_file(str(path))
    weights["base_model.model.lm_head.weight"] = torch.zeros(4, 4)
    save_file(weights, str(path))
    with pytest.raises(StudioError, match="trains base_model.model.lm_head.weight in full"):
        export_lora_gguf(run_dir, tmp_path / "lora")
    assert not (tmp_path / "lora").exists() and not list(tmp_path.glob(".lora*"))
