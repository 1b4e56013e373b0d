"""The run's data in one folder every training process reads, when a run trains in several processes.

TRL's trainers compute some things once for all processes and hand them over as a `datasets` cache
file written beside the dataset's own files: DPO's and KTO's precomputed reference log-probabilities
(rank 0 writes `cache-FINGERPRINT.arrow`, the other ranks open it), and the tokenizing each trainer
does under "main process first" (rank 0 maps and caches, the others read its cache). A dataset held in
memory has no files, so `datasets` gives each process a temporary folder of its own in /tmp, and rank 1
looked for rank 0's file in its own folder: `FileNotFoundError` (issue 37). So, under several
processes, rank 0 writes the rows into the run folder first and every process opens them from there;
what the trainers cache then lands in one folder they all see (on several machines, the shared disk
the run folder must be on). Data read from the studio's token cache is on disk already and is left
where it is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from studio.runs.files import SHARED_DATA_DIR  # written by rank 0, removed when the run ends


def processes() -> int:
    """How many training processes this run has (accelerate's launcher sets WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_in_memory(dataset) -> bool:
    return dataset is not None and not getattr(dataset, "cache_files", None)


def shared_on_disk(train_dataset, eval_dataset, run_dir: Path, trainer_args: dict[str, Any]):
    """(train, eval) opened from files every process of this node shares: written once by the node's main
    process (each node has its own run folder), while the others wait at a barrier, then opened by all.
    Datasets on disk already come back as they are."""
    if processes() < 2 or not (is_in_memory(train_dataset) or is_in_memory(eval_dataset)):
        return train_dataset, eval_dataset
    import datasets

    folder = run_dir / SHARED_DATA_DIR
    barrier = _barrier_args(trainer_args)
    with barrier.main_process_first(local=True, desc="writing the data for every process"):
        named = {"train": train_dataset, "eval": eval_dataset}
        if local_index() == 0:
            shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's copy (and its caches)
            for name, dataset in named.items():
                if is_in_memory(dataset):
                    dataset.save_to_disk(str(folder / name))
        opened = {name: datasets.load_from_disk(str(folder / name)) if is_in_memory(dataset) else dataset
                  for name, dataset in named.items()}
    return opened["train"], opened["eval"]


def local_index() -> int:
    """This process's place on its node (accelerate's launcher sets LOCAL_RANK): 0 writes the node's copy."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def remove_shared(run_dir: Path) -> None:
    """The main process's clean-up at the end of a run: the copy served only this run's processes."""
    shutil.rmtree(run_dir / SHARED_DATA_DIR, ignore_errors=True)


# The trainer's arguments that decide how its processes join one group (the rest would only repeat warnings).
GROUP_ARGS = ("output_dir", "use_cpu", "deepspeed", "fsdp", "ddp_backend", "ddp_timeout")


def _barrier_args(trainer_args: dict[str, Any]):
    """TrainingArguments with the trainer's own device settings: creating them joins the processes'
    group exactly as the trainer will (the trainer's arguments then reuse it), and their
    `main_process_first` is the barrier."""
    from transformers import TrainingArguments

    group = {key: trainer_args[key] for key in GROUP_ARGS if key in trainer_args}
    return TrainingArguments(report_to="none", **group)
