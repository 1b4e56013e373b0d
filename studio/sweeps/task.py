"""One task of a sweep's Slurm job array: `python -m studio.sweeps.task RECIPE` runs one trial of the
shared study (studio.sweeps.study, launch_limit 1) and ends when that trial's run ends."""

from __future__ import annotations

import sys

from studio.sweeps.spec import load_spec
from studio.sweeps.study import run_sweep


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = load_spec(argv[0])
    result = run_sweep(spec, launch_limit=1, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"[studio] sweep {spec.name}: {len(result['trials'])} trials so far, best {result['best']}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
