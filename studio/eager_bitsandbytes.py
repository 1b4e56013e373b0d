"""Import bitsandbytes without the torch.compile calls it makes at import time.

bitsandbytes (0.50) wraps four of its pure-PyTorch fallback kernels in ``torch.compile`` as it is
imported, and PEFT imports bitsandbytes whenever it is installed (``peft/helpers.py``), so every process
that touches an adapter (each training process, each chat or export) paid for importing torch's whole
compiler stack (torch._inductor: 2-3 s of a 10-14 s import on a 2-core CPU; `python
bench/import_cost.py` measures it). Those fallbacks run only where bitsandbytes has no native kernel (odd
shapes on a CPU); there they now run eagerly, which is also what bitsandbytes itself falls back to
whenever compiling fails. ``torch.compile`` is the real one again as soon as bitsandbytes is imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

PACKAGE = "bitsandbytes"


def _eager(model: Callable | None = None, **_options) -> Callable:
    """``torch.compile``'s two call forms, doing nothing: ``compile(fn)`` and ``compile(**options)(fn)``."""
    return model if model is not None else (lambda fn: fn)


class _EagerFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None):
        if name != PACKAGE:
            return None
        uninstall()  # once is enough, and the search below must not find this finder again
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            import torch

            real_compile = torch.compile
            torch.compile = _eager
            try:
                run_module(module)
            finally:
                torch.compile = real_compile

        spec.loader.exec_module = exec_module
        return spec


_FINDER = _EagerFinder()


def install() -> None:
    """From now on the first import of bitsandbytes in this process skips its import-time compiling."""
    if PACKAGE not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
