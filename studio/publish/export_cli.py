"""`studio export`: picks the writer by --format (adapter folder, GGUF files, or a llama.cpp LoRA GGUF)."""

from __future__ import annotations


def cli_export(args) -> int:
    from studio.evaluation.classify_eval import is_classifier_run

    if is_classifier_run(args.run_dir):  # one folder transformers' pipeline loads, checked against the run
        import json

        from studio.publish.classify_export import export_classifier

        print(json.dumps(export_classifier(args.run_dir, args.to)))
        return 0
    if getattr(args, "format", "adapter") == "gguf-lora":
        from studio.publish.gguf_lora import cli_export_lora

        return cli_export_lora(args)
    from studio.publish.gguf import cli_export as export_adapter_or_gguf

    return export_adapter_or_gguf(args)
