"""Train several run folders one after another in the processes of one `accelerate launch`.

Each process runs, for each folder, exactly what a rank of a multi-process run runs (`studio.runs.worker`
with LOCAL_RANK set: rank 0 writes the run's files, the others train and write nothing). One launch pays
the imports and the process group once for several methods, the costly part on 2 cores.
Usage: accelerate launch --config_file FILE tests/ranks_train_runs.py RUN_DIR...
"""

from __future__ import annotations

import sys

from studio.runs import worker


def main(run_dirs: list[str]) -> int:
    import torch.distributed as dist

    for run_dir in run_dirs:
        if code := worker.main([run_dir]):
            return code  # as when a run has its own launch: this process ends, and torchrun ends the others
        if dist.is_initialized():
            dist.barrier()  # a later run may read this one (RL's reward model): rank 0 has written it all
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
