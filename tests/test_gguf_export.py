"""GGUF export: a tiny tuned model written as GGUF answers greedily exactly as the tuned model does,
the Modelfile's Go template renders what the tokenizer's chat template renders (ChatML, Llama-2,
Llama-3, a default system prompt), q8_0 really quantises, and refusals leave nothing behind."""

import json
import shutil
from types import SimpleNamespace

import pytest
from test_eval import tiny_dpo_run
from test_hub import CANARY

from studio.errors import StudioError

LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + "
    "'<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% "
    "endif %}"
)
# SmolLM2's shape: ChatML that inserts a system prompt of its own when the conversation has none.
CHATML_DEFAULT_SYSTEM = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named Tiny.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture
def run_dir(tmp_path_factory, tiny_model_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_dpo_run(tmp_path_factory, tiny_model_dir), copy)
    return copy


def test_f16_gguf_answers_like_the_tuned_model(run_dir, tmp_path, capsys, monkeypatch, studio_home):
    from gguf import GGUFReader

    from studio.chat.before_after import BeforeAfter
    from studio.publish.gguf import cli_export
    from studio.publish.gguf_generate import cli_generate
    from studio.publish.modelfile import parse_modelfile

    monkeypatch.setenv("HF_TOKEN", CANARY)  # a token in the environment must not reach the export
    args = SimpleNamespace(run_dir=str(run_dir), to=str(tmp_path / "out"), format="gguf", quant="f16",
                           merge=False, check_prompt=None, no_check=False)
    assert cli_export(args) == 0
    printed = capsys.readouterr().out
    assert "Round trip verified" in printed, printed
    out = tmp_path / "out"
    gguf_file = out / "run-f16.gguf"
    assert sorted(p.name for p in out.iterdir()) == [".studio-owner.json", "Modelfile", "run-f16.gguf",
                                                        "studio_gguf.json"]
    fields = GGUFReader(gguf_file).fields
    assert "<|im_start|>" in bytes(fields["tokenizer.chat_template"].parts[-1]).decode()
    assert "tokenizer.ggml.tokens" in fields and "tokenizer.ggml.merges" in fields

    # The file holds the tuned weights: its next-token logits are the tuned model's up to f16 rounding, and
    # its greedy answer starts as the tuned model's (a tiny random model's later tokens sit on near-ties,
    # where f16 rounding may pick the other one); training changed the answer.
    prompt = "What is the capital of France?"
    pair = BeforeAfter(run_dir)
    want = pair.compare(prompt)
    assert want["before"] != want["after"]
    assert cli_generate(SimpleNamespace(file=str(gguf_file), prompt=prompt, max_new_tokens=96,
                                        engine="transformers", json=True)) == 0
    got = json.loads(capsys.readouterr().out)["answer"]
    # the check prompt's answer matched in full above
    assert got[:10] == want["after"][:10], (got, want["after"])
    tuned, from_file = _logits(pair, prompt), _logits_of_gguf(gguf_file, prompt)
    scale = float(tuned.abs().max())
    assert float((tuned - from_file).abs().max()) < 0.02 * scale, ("the GGUF's logits are not the tuned "
                                                                   "model's")
    # training moved them
    assert float((tuned - _logits(pair, prompt, tuned=False)).abs().max()) > 0.05 * scale

    modelfile = parse_modelfile((out / "Modelfile").read_text())
    assert modelfile["from"] == "./run-f16.gguf"
    assert ("stop", '"<|im_end|>"') in modelfile["parameters"]
    assert ("temperature", "0.0") in modelfile["parameters"]
    for path in [*out.iterdir(), *studio_home.rglob("*.log")]:
        assert CANARY.encode() not in path.read_bytes()


def _chat_ids(tokenizer, prompt):
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                         return_tensors="pt", return_dict=True)["input_ids"]


def _logits(pair, prompt, tuned=True):
    import contextlib

    import torch

    model = pair.model
    with torch.no_grad(), pair._lock, (contextlib.nullcontext() if tuned else model.disable_adapter()):
        return model(_chat_ids(pair.tokenizer, prompt)).logits[0, -1].float()


def _logits_of_gguf(path, prompt):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(_chat_ids(tokenizer, prompt)).logits[0, -1].float()


def test_f16_and_q8_0_from_one_export_and_a_bad_quant_or_folder_leaves_nothing(run_dir, tmp_path):
    from gguf import GGMLQuantizationType, GGUFReader

    from studio.publish.gguf import export_gguf

    # Several quantisations from one merge, each read back and checked; the Modelfile uses the first.
    result = export_gguf(run_dir, tmp_path / "q8", "f16, q8_0")
    assert [f["quant"] for f in result["files"]] == ["f16", "q8_0"] and result["quant"] == "f16"
    assert sorted(p.name for p in (tmp_path / "q8").iterdir()) == [
        ".studio-owner.json", "Modelfile", "run-f16.gguf", "run-q8_0.gguf", "studio_gguf.json"]
    assert result["files"][0]["check"]["same"] and result["files"][1]["check"]["gguf"].strip()
    types = {t.name: t.tensor_type for t in GGUFReader(result["files"][1]["gguf"]).tensors}
    assert GGMLQuantizationType.Q8_0 in types.values()
    assert "FROM ./run-f16.gguf" in (tmp_path / "q8" / "Modelfile").read_text()
    with pytest.raises(StudioError, match="Unknown quantisation"):
        export_gguf(run_dir, tmp_path / "q3", "q3_k")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(StudioError, match="not an earlier GGUF export"):
        export_gguf(run_dir, busy, check_prompt=None)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    # An earlier GGUF export may be replaced.
    assert export_gguf(run_dir, tmp_path / "q8", "f16", check_prompt=None)["gguf"].endswith("run-f16.gguf")


@pytest.mark.parametrize("family", ["chatml", "llama2", "llama3", "llama3-adds-bos", "chatml-default-system"])
def test_modelfile_template_renders_like_the_chat_template(family, tiny_model_dir):
    from tokenizers import processors
    from transformers import AutoTokenizer

    from studio.data.prepare.templates import CHATML, LLAMA2
    from studio.publish.modelfile import derive, leading_bos, render_go

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = {"chatml": CHATML, "llama2": LLAMA2, "llama3": LLAMA3,
                               "llama3-adds-bos": LLAMA3,
                               "chatml-default-system": CHATML_DEFAULT_SYSTEM}[family]
    if family == "llama3-adds-bos":  # as Llama 3's tokenizer does; llama.cpp then adds BOS itself
        bos_id = tokenizer.bos_token_id
        tokenizer._tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{tokenizer.bos_token} $A", special_tokens=[(tokenizer.bos_token, bos_id)])
    info = derive(tokenizer)
    bos = leading_bos(tokenizer)
    assert bool(bos) == (family == "llama3-adds-bos") and not (bos and info["template"].startswith(bos))
    prompt, system = "Is pineapple on pizza a crime?", "Answer in one line."
    for messages, sys_text in (([{"role": "system", "content": system}, {"role": "user", "content": prompt}],
                                system),
                               ([{"role": "user", "content": prompt}], info["system"])):
        want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        want = want.removeprefix(bos)  # llama.cpp adds BOS itself
        assert render_go(info["template"], sys_text, prompt) == want
    assert info["system"] == ("You are a helpful AI assistant named Tiny." if family ==
    "chatml-default-system" else "")
    # A finished exchange renders the same too, and the turn's end is a stop token.
    exchange = [{"role": "system", "content": system}, {"role": "user", "content": prompt},
                {"role": "assistant", "content": "No."}]
    want = tokenizer.apply_chat_template(exchange, tokenize=False)
    assert render_go(info["template"], system, prompt, "No.") == (want.removeprefix(bos))
    want_stop = {"llama2": tokenizer.eos_token, "llama3": "<|eot_id|>", "llama3-adds-bos": "<|eot_id|>"}.get(
        family, "<|im_end|>")
    assert want_stop in info["stop"]


def test_generate_refuses_what_is_not_a_gguf(tmp_path):
    from studio.publish.gguf_generate import generate

    with pytest.raises(StudioError, match="does not exist"):
        generate(tmp_path / "nope.gguf", "hi")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not a gguf")
    with pytest.raises(StudioError, match="not a GGUF file"):
        generate(fake, "hi")


def test_export_tab_writes_gguf_and_shows_the_check(run_dir, tmp_path, monkeypatch):
    import types

    from studio.ui.share import export_tab

    monkeypatch.setattr("studio.runs.get_run", lambda run_id: types.SimpleNamespace(dir=run_dir))
    seen = []
    status = export_tab.export_gguf_run("r1", str(tmp_path / "g"), "f16", progress=lambda f,
                                        desc=None: seen.append(f))
    assert status.startswith("✓") and "Round trip verified" in status, status
    assert (tmp_path / "g-gguf" / "Modelfile").is_file() and seen[0] < seen[-1] == 1.0
    assert "Pick" in export_tab.export_gguf_run(None, "", "f16")


def test_cli_routes_export_and_generate(capsys):
    from studio.cli import _handler, build_parser, main

    args = build_parser().parse_args(["export", "RUN", "--to", "D", "--format", "gguf", "--quant", "q8_0"])
    assert (args.format, args.quant, args.no_check) == ("gguf", "q8_0", False)
    assert _handler(args).__module__ == "studio.publish.export_cli"
    assert main(["generate", "missing.gguf", "--prompt", "hi", "--json"]) == 2
    assert capsys.readouterr().err.strip() == ("error: The GGUF file missing.gguf does not exist; check the "
                                               "path.")


def test_k_quants_use_llama_cpp_or_say_what_is_missing(run_dir, tmp_path):
    """q4_k_m goes through llama.cpp's quantiser where its bindings are installed; without them the
    refusal names the package and leaves nothing behind."""
    import importlib.util

    from studio.publish.gguf import export_gguf

    if importlib.util.find_spec("llama_cpp") is None:
        with pytest.raises(StudioError, match="pip install llama-cpp-python"):
            export_gguf(run_dir, tmp_path / "k", "q4_k_m", check_prompt=None)
        assert not list(tmp_path.glob("*k*"))
        return
    from gguf import GGUFReader

    from studio.publish.gguf_generate import generate

    result = export_gguf(run_dir, tmp_path / "k", "q4_k_m", check_prompt=None)
    f16 = export_gguf(run_dir, tmp_path / "f", "f16", check_prompt=None)
    assert result["gguf"].endswith("run-q4_k_m.gguf") and not list((tmp_path / "k").glob(".f16*"))
    fields = GGUFReader(result["gguf"]).fields
    assert int(fields["general.file_type"].parts[-1][0]) == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    # llama.cpp reads both files back; from the f16 file it generates the tokens transformers does (a tiny
    # model's text holds broken UTF-8, which transformers shows as U+FFFD and llama.cpp drops).
    prompt = "What is the capital of France?"
    hf = generate(f16["gguf"], prompt, max_new_tokens=24)
    assert generate(f16["gguf"], prompt, engine="llama.cpp",
                    max_new_tokens=24).startswith(hf.replace("\ufffd", ""))
    assert isinstance(generate(result["gguf"], "hi", engine="llama.cpp", max_new_tokens=4), str)
