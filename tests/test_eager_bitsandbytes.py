"""bitsandbytes imported through PEFT skips its import-time torch.compile, and nothing else changes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import studio, peft, torch, bitsandbytes
from bitsandbytes.backends.default import ops
print(json.dumps({
    "compiler_imported": "torch._inductor.compile_fx" in sys.modules,
    "compile_restored": torch.compile.__module__ == "torch" and torch.compile.__name__ == "compile",
    "fallback_is_plain_function": type(ops._dequantize_4bit_compute).__name__ == "function"
        and not hasattr(ops._dequantize_4bit_compute, "_torchdynamo_orig_callable"),
    "finder_left": any(type(f).__name__ == "_EagerFinder" for f in sys.meta_path),
}))
"""


def test_peft_imports_bitsandbytes_without_torchs_compiler_and_torch_compile_is_restored():
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"compiler_imported": False, "compile_restored": True, "fallback_is_plain_function": True,
                    "finder_left": False}, seen


def test_without_the_finder_bitsandbytes_would_have_imported_the_compiler():
    """The check above can fail: bitsandbytes imported before studio compiles as it always did."""
    probe = "import sys, torch, bitsandbytes, studio; print('torch._inductor.compile_fx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True,
                          timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True"
