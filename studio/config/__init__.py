"""The run configuration: typed dataclasses, YAML in and out, dotted overrides, validation.

Every option is written once here, with its help text in ``metadata["help"]`` and, when it takes one
of a fixed set of values, those values in ``metadata["choices"]`` (``open``: suggestions, other values
allowed; ``multiple``: comma-separated); the CLI, the UI and validate() read them. Unknown keys are an
error, never a silent default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.config.building import build_section
from studio.config.options import (
    check_choices,
    choices_help,
    choices_of,
    config_field,
    fixed_options,
    help_text,
)
from studio.config.ranges import check_ranges
from studio.config.recipe_file import MOVED_KEYS, apply_overrides, move_old_keys, read_recipe
from studio.config.trackers import HELP as TRACKER_HELP
from studio.config.trackers import TRACKERS
from studio.config.trackers import check as check_trackers
from studio.data.prepare.templates import TEMPLATE_CHOICES
from studio.errors import ConfigError
from studio.methods import all_methods, get_method, method_names
from studio.methods.base import option as _opt
from studio.safety.atomic import write_text

__all__ = ["MOVED_KEYS", "ConfigError", "RunConfig", "apply_overrides", "choices_help", "choices_of",
           "config_field", "fixed_options", "help_text", "read_recipe",
           "validate"]


@dataclass
class ModelConfig:
    name: str = _opt(
        "embedded",
        "Base model: 'embedded' (SmolLM2-135M-Instruct, works offline), a Hub id, a local folder, "
        "or a .gguf file.",
    )
    trust_remote_code: bool = _opt(
        False, "Run Python code shipped with the model. Only turn on for models you trust."
    )


@dataclass
class DataConfig:
    source: str = _opt("", "Dataset: a Hub id (org/name) or a local .jsonl/.json/.csv/.tsv/.parquet file.")
    subset: str | None = _opt(None, "Hub dataset configuration (subset) name, if it has several.")
    split: str = _opt("train", "Split to read, e.g. 'train' or 'train[:2000]'.")
    max_rows: int | None = _opt(None, "Use at most this many rows (after shuffling when a seed is set).",
                                label="Row limit")
    shuffle_seed: int | None = _opt(None, "Shuffle rows with this seed before taking max_rows.")
    template: str = _opt(
        "auto",
        "Chat template: 'auto' (the model's own, else ChatML), 'model', 'chatml', 'llama2' or 'zephyr'.",
        choices=list(TEMPLATE_CHOICES),
    )
    column_map: dict = _opt({}, "Override detected columns, e.g. {prompt: question, chosen: good}.")  # noqa: RUF009
    eval_source: str | None = _opt(
        None, "Held-out examples (a file): the pairs the evaluation scores before vs after training, and the "
        "eval set during training when training.eval_steps is set (same kind as the training data)."
    )
    eval_fraction: float = _opt(
        0.0, "Hold out this share of the training examples (e.g. 0.1) as the eval set during training.")
    text_column: str | None = _opt(
        None,
        "Classify: the text column when it has another name than text (two names, comma-separated, for a "
        "pair; the word list for tokens).")
    label_column: str | None = _opt(None, "Classify: the label column when it has another name than label "
                                    "(or tags for tokens).")


@dataclass
class LoraConfig:
    enabled: bool = _opt(True, "Train a small LoRA adapter instead of all weights (far less memory).")
    r: int = _opt(16, "LoRA rank: the adapter's capacity. 8-64 is typical.", label="LoRA rank r")
    alpha: float = _opt(32.0, "LoRA scaling; commonly twice the rank.", label="LoRA alpha")
    dropout: float = _opt(0.05, "Dropout on the adapter's input, in [0, 1).", label="LoRA dropout")
    target_modules: str = _opt(
        "all-linear", "Layers that get adapters: 'all-linear' or a comma-separated list like q_proj,v_proj.",
        choices=["all-linear", "q_proj,v_proj", "q_proj,k_proj,v_proj,o_proj"], open=True,  # presets
    )
    qlora: bool = _opt(False, "Load the base in 4-bit NF4 (QLoRA) through bitsandbytes: on an NVIDIA GPU or "
                              "a "
                       "CPU.", label="QLoRA (4-bit base)")


@dataclass
class TrainingConfig:
    learning_rate: float = _opt(
        2e-4,
        "Step size. SFT with LoRA: ~1e-4 to 2e-4. DPO: about 100x smaller than SFT (5e-7 full, ~5e-6 LoRA).",
    )
    num_epochs: float | None = _opt(1.0, "Passes over the data. Leave empty to use max_steps.")
    max_steps: int | None = _opt(None, "Stop after this many optimizer steps (overrides epochs when set).")
    batch_size: int = _opt(4, "Examples per device per step.")
    gradient_accumulation: int = _opt(1, "Steps to accumulate before an update (effective batch grows).")
    max_length: int = _opt(512, "Longest sequence in tokens; longer rows are truncated.")
    lr_scheduler: str = _opt("cosine", "Learning-rate schedule: cosine (recommended), linear or constant.",
                             choices=["cosine", "linear", "constant", "constant_with_warmup"])
    warmup_steps: int = _opt(0, "Steps of linear learning-rate warm-up at the start.")
    optimizer: str = _opt("adamw_torch", "Optimizer; Adam(W) is the standard choice for SFT and DPO. "
                                         "adamw_8bit, "
                          "paged_adamw_8bit and paged_adamw_32bit (bitsandbytes) keep its state in less "
                          "memory.",
                          choices=["adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_8bit",
                                   "paged_adamw_8bit", "paged_adamw_32bit"], open=True)
    weight_decay: float = _opt(0.0, "Weight decay (AdamW).")
    seed: int = _opt(42, "Random seed, for reproducible runs.")
    logging_steps: int = _opt(1, "Log metrics every this many steps.")
    save_steps: int = _opt(50, "Save a resumable checkpoint every this many steps.")
    eval_steps: int = _opt(
        0, "Evaluate on data.eval_fraction or data.eval_source every this many steps (0: off, or at every "
        "checkpoint when an eval fraction or patience is set); the best checkpoint becomes the adapter.")
    early_stopping_patience: int = _opt(
        0, "Stop when the eval loss has not improved for this many evaluations (0: never stop early).")
    precision: str = _opt(
        "auto", "Number format: 'auto' (bf16 on a GPU or a CPU with bf16 units, fp16 on older GPUs, else "
        "fp32), 'bf16', 'fp16' or 'fp32'.", choices=["auto", "bf16", "fp16", "fp32"],
    )
    gradient_checkpointing: str = _opt(
        "auto", "Trade compute for memory: 'auto' (on with a GPU, off on CPU where it is slow), 'on', 'off'.",
        choices=["auto", "on", "off"],
    )
    report_to: str = _opt("none", TRACKER_HELP, choices=["none", *TRACKERS], multiple=True)
    device: str = _opt("auto", "Where to train: 'auto' (the GPU when there is one), 'cuda', 'mps' (an Apple "
                               "GPU) or "
                       "'cpu'.", choices=["auto", "cuda", "mps", "cpu"])
    use_liger_kernel: bool = _opt(
        False, "Liger fused kernels (GPU, needs the liger-kernel package): less memory and faster steps."
    )


@dataclass
class DistributedConfig:
    processes: int = _opt(
        0, "Training processes: 0 = one per GPU (one on a CPU); N > 1 trains N processes through "
        "`accelerate launch` (gloo on a CPU).")
    strategy: str = _opt("ddp", "With several GPUs: 'ddp' (a full copy per GPU), 'fsdp' (weights sharded), "
                         "'zero2' or 'zero3' (DeepSpeed ZeRO: optimizer state and gradients, or everything, "
                         "sharded).",
                         choices=["ddp", "fsdp", "zero2", "zero3"])
    nodes: int = _opt(1, "Machines training together; each runs the same recipe with its own node_rank.")
    node_rank: int = _opt(0, "This machine's place among the nodes: 0 on the main one (it writes the run), "
                             "1, 2...")
    main: str = _opt("", "HOST:PORT of node 0, which every node reaches (several nodes only).")


@dataclass
class OutputConfig:
    dir: str | None = _opt(None, "Run folder. Empty: a new folder under the studio's runs.")
    name: str | None = _opt(None, "A short name for the run, shown in the run history.")


@dataclass
class _RunConfigBase:
    """The parts every run has; RunConfig below adds one section per method with options of its own."""

    method: str = _opt("sft", "Training method: " + ", ".join(
        f"'{m.name}' ({m.description[0].lower() + m.description[1:].rstrip('.')})" for m in all_methods()) +
        ".",
        choices=method_names())
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    # ---- YAML in and out -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Every part, and of the method sections only the chosen method's (the others are unused)."""
        raw = dataclasses.asdict(self)
        for method in all_methods():
            if method.options is not None and method.name != self.method:
                raw.pop(method.name, None)
        return raw

    @property
    def method_options(self) -> Any:
        """The chosen method's own options, or None when it has none."""
        return getattr(self, self.method, None) if self.method in method_names() else None

    def user_code(self) -> list[str]:
        """The user's own code the chosen method's options would run (its ``Method.user_code``), one name
        each."""
        options = self.method_options
        method = get_method(self.method) if options is not None else None
        return method.user_code(options) if method and method.user_code else []

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        write_text(path, self.to_yaml())  # atomic: a crash never leaves half a recipe

    @classmethod
    def from_dict(cls, raw: dict | None) -> RunConfig:
        return build_section(cls, move_old_keys(raw or {}), prefix="")

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> RunConfig:
        raw = read_recipe(path)
        # a sweep's section is `studio sweep`'s (studio.sweeps); one run trains the base
        raw.pop("sweep", None)
        return cls.from_dict(apply_overrides(raw, overrides or []))

    def with_overrides(self, overrides: list[str]) -> RunConfig:
        return RunConfig.from_dict(apply_overrides(self.to_dict(), overrides))

    def validate(self) -> RunConfig:
        validate(self)
        return self


RunConfig = dataclasses.make_dataclass(
    "RunConfig",
    [(m.name, m.options, field(default_factory=m.options)) for m in all_methods() if m.options is not None],
    bases=(_RunConfigBase,),
)
RunConfig.__module__ = __name__
RunConfig.__doc__ = "A whole run: method, model, data, LoRA, training, output and the method's own options."


def validate(cfg: RunConfig) -> None:
    """Check everything that can be checked before anything heavy starts."""
    t, lora = cfg.training, cfg.lora
    get_method(cfg.method)  # an unknown method is one sentence listing the known ones
    check_choices(cfg)
    if not cfg.data.source.strip():
        raise ConfigError("No dataset given; set data.source to a local file or a Hub dataset id.")
    if not cfg.model.name.strip():
        raise ConfigError("No model given; set model.name to 'embedded', a Hub id, a folder, a .gguf file "
                          "or run:NAME (a finished run to start from).")
    check_ranges(cfg)  # numbers inside the ranges training accepts
    check_trackers(t.report_to)  # unknown or uninstalled trackers are refused before anything starts
    if lora.qlora and not lora.enabled:
        raise ConfigError("QLoRA trains a LoRA adapter on a 4-bit base; turn lora.enabled on to use it.")
    from studio.config.evaluation import check as check_eval

    check_eval(cfg)
    options = cfg.method_options
    if options is not None and hasattr(options, "validate"):
        options.validate()
