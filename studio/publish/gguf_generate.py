"""`studio generate FILE.gguf`: load a GGUF back and answer a prompt, the way an exported model will run.

transformers' GGUF loader always works (it de-quantises to float32 and rebuilds the tokenizer and chat
template from the file's metadata); llama.cpp's Python bindings are used instead with
``engine="llama.cpp"`` where they are installed (they have no wheel for every machine).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from studio.errors import StudioError

log = logging.getLogger(__name__)
ENGINES = ("transformers", "llama.cpp")


class GenerateError(StudioError):
    """A GGUF that cannot be read or answered with, as one sentence."""


def _check_file(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise GenerateError(f"The GGUF file {path} does not exist; check the path.")
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise GenerateError(f"{path} is not a GGUF file (it does not start with the GGUF magic bytes).")
    return path


def generate(path: str | Path, prompt: str, *, max_new_tokens: int = 96, engine: str = "transformers") -> str:
    """The greedy answer of the model in ``path`` to one user message, through its own chat template."""
    path = _check_file(Path(path))
    if engine == "llama.cpp":
        return _generate_llama_cpp(path, prompt, max_new_tokens)
    if engine != "transformers":
        raise GenerateError(f"Unknown engine '{engine}'; choose transformers or llama.cpp.")
    import torch

    from studio.models.cache import LoadKey, model_cache

    key = LoadKey(str(path.resolve()), "gguf", stamp=path.stat().st_mtime)
    model, tokenizer = model_cache().get(key, lambda: _load_gguf(path), label=path.name,
                                         estimate=path.stat().st_size)
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def _load_gguf(path: Path):
    """The GGUF read back through transformers (weights de-quantized to float32) and its tokenizer."""
    from studio.models.pretrained import gguf_model

    try:
        model, tokenizer = gguf_model(path)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        # RuntimeError: the loader rebuilt the model with its own defaults (a Qwen3 whose head size is
        # not 128) and the file's tensors do not fit them.
        log.debug("gguf load failed", exc_info=True)
        raise GenerateError(f"transformers' GGUF reader cannot rebuild the model in {path.name} "
                            f"({type(exc).__name__}), so it cannot answer through transformers; "
                            "try --engine llama.cpp.") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def _generate_llama_cpp(path: Path, prompt: str, max_new_tokens: int) -> str:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise GenerateError("llama.cpp's Python bindings are not installed; use --engine "
                            "transformers.") from None
    llm = Llama(model_path=str(path), n_ctx=2048, verbose=False)
    reply = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], temperature=0.0,
                                       top_k=1, max_tokens=max_new_tokens)
    return reply["choices"][0]["message"]["content"]


def cli_generate(args) -> int:
    answer = generate(args.file, args.prompt, max_new_tokens=args.max_new_tokens, engine=args.engine)
    print(json.dumps({"answer": answer}, ensure_ascii=False) if args.json else answer)
    return 0
