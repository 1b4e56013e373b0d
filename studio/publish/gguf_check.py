"""The GGUF round trip: the tuned model's greedy answer against the GGUF's read back (through transformers,
and llama.cpp where its bindings are installed), and one sentence on how they compare."""

from __future__ import annotations

from pathlib import Path

from studio.i18n import tr, translate


def round_trip_check(gguf_file: Path, prompt: str, tuned_answer: str) -> dict:
    """Greedy answers of the tuned model and of the GGUF read back through transformers, and through
    llama.cpp as well where its Python bindings are installed (``llama_cpp`` is None where not)."""
    import importlib.util

    from studio.publish.gguf_generate import GenerateError, generate

    try:
        answer = generate(gguf_file, prompt)
    except GenerateError as exc:  # the file is written and may well run in llama.cpp: keep it, say so
        return {"prompt": prompt, "tuned": tuned_answer, "gguf": None, "same": False, "same_first_40": False,
                "llama_cpp": None, "llama_cpp_same": None, "unreadable": str(exc)}
    llama = generate(gguf_file, prompt, engine="llama.cpp") if importlib.util.find_spec("llama_cpp") else None
    return {"prompt": prompt, "tuned": tuned_answer, "gguf": answer, "same": answer == tuned_answer,
            "same_first_40": answer[:40] == tuned_answer[:40], "llama_cpp": llama,
            "llama_cpp_same": None if llama is None else llama == tuned_answer}


def describe_check(check: dict | None) -> str:
    """One sentence on the round trip, for the CLI and the Export tab."""
    if not check:
        return tr("The round-trip check was skipped.")
    if check.get("unreadable"):
        return tr("The GGUF is written and kept, but its answer was not compared: {reason}").format(
            reason=translate(str(check["unreadable"])))
    llama = {None: "", True: tr(" llama.cpp answers the same."), False: tr(" llama.cpp's answer differs.")}[
        check.get("llama_cpp_same")]
    if check["same"]:
        return tr("Round trip verified: the GGUF answers '{prompt}' exactly as the tuned model does.").format(
            prompt=check["prompt"]) + llama
    if check["same_first_40"]:
        return tr("Round trip: the GGUF's answer agrees with the tuned model's for the first 40 characters, "
                  "then differs.")
    return tr("Round trip differs: the tuned model answers '{tuned}' but the GGUF '{gguf}'; quantisation may "
              "have changed the answer.").format(tuned=check["tuned"][:60], gguf=check["gguf"][:60])
