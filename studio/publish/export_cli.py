"""`studio export`: picks the writer by --format (adapter folder, GGUF files, or a llama.cpp LoRA GGUF)."""

from __future__ import annotations


def cli_export(args) -> int:
    if getattr(args, "format", "adapter") == "gguf-lora":
        from studio.publish.gguf_lora import cli_export_lora

        return cli_export_lora(args)
    from studio.publish.gguf import cli_export as export_adapter_or_gguf

    return export_adapter_or_gguf(args)
