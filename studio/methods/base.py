"""What a training method declares: the contract between one method module and the rest of the studio.

A method module (studio/methods/NAME.py) defines ``METHOD = Method(...)``. The config reads its
options, the trainer builder calls its ``build``, the data check reads ``data_kind``, the UI reads its
title, description, advice and charts, and the model card its ``card_line``. Nothing here imports
torch or TRL: a method imports its trainer inside ``build``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.errors import StudioError


def option(default: Any, help: str, **extra: Any) -> Any:
    """A config field with its help text written once (the CLI, the UI and the docs read it)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **extra})
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class Chart:
    """One live chart of a run: metric keys from metrics.jsonl and the label each line gets."""

    title: str
    series: dict[str, str]


@dataclass
class TrainContext:
    """Everything a method needs to build its trainer; the model already carries its LoRA adapter."""

    model: Any
    tokenizer: Any
    dataset: Any
    options: Any  # the method's own options (an instance of Method.options), or None
    common_args: dict[str, Any]  # TrainingArguments shared by every method (device, schedule, saving)
    callbacks: list[Any]
    run_dir: Path
    peft: bool  # the model is a PEFT model: a method needing a reference can use the adapter-less base
    # Only for a method with ``takes_prepared``: ``dataset`` holds the rows its trainer made last time from
    # the same data and settings (studio.data's token cache); hand them over as prepared (``as_prepared``).
    prepared: bool = False
    eval_dataset: Any = None  # examples of the same kind, evaluated every training.eval_steps (or None)


PRODUCES = ("policy", "reward", "classifier")


@dataclass(frozen=True)
class Method:
    name: str  # the recipe's `method:` value and the name of its own options section
    title: str  # short label for choices and the data's sentences, e.g. "DPO (preferences)"
    full_name: str  # as a model card names it, e.g. "Direct Preference Optimization (DPO)"
    description: str  # one line: what it learns from
    data_kind: str  # the kind of data it trains on, as studio.data names kinds ("sft", "preference", ...)
    build: Callable[[TrainContext], Any]  # returns the TRL trainer
    advice: str  # the field's advice, shown beside the choice (Markdown)
    card_line: str  # one sentence for the model card
    options: type | None = None  # dataclass of its own options; its fields carry their help text
    charts: tuple[Chart, ...] = ()  # charts beside the loss curve
    recipes: tuple[str, ...] = ()  # recipe files in presets/recipes/ that use it
    reference_model: bool = False  # needs a frozen reference policy (memory estimate; adapter-off with LoRA)
    # What a run produces: a "policy" (a model that chats: chat and before/after evaluation apply) or a
    # "reward" model (the same base with a one-number sequence-classification head, LoRA task SEQ_CLS,
    # the head itself trained in full), which scores answers instead of writing them, or a "classifier"
    # (an encoder with a label head, trained by studio.training.classifier with transformers' Trainer).
    produces: str = "policy"
    order: int = 100  # where people meet it in lists (lower first): demonstrations, then preferences
    # Its TRL trainer tokenizes the whole dataset when built and its config takes `dataset_num_proc`,
    # so many rows are tokenized in several processes.
    parallel_data: bool = False
    # Its build gives ``ctx.dataset`` to the trainer as prepared rows when ``ctx.prepared`` (TRL's option for
    # it, or ``as_prepared``); only such a method's runs read the token cache (others read the data each run).
    takes_prepared: bool = False
    sequences_per_example: int = 1  # sequences one example puts through the model (a preference pair: 2)
    # Checks that look at the world (files, other runs) rather than the recipe alone; training calls it
    # with the method's options before anything heavy loads. Raises ConfigError with one sentence.
    preflight: Callable[[Any], None] | None = None
    # Why evaluation during training (the eval curve, early stopping) is not offered, as a clause ("an RL run
    # is judged by ..."); empty when it is. Validation and the faces read it here, never a list of names.
    no_eval_curve: str = ""
    # The option that scales its implicit reward, β·log(π/π_ref) (DPO's and KTO's `beta`): held-out pairs
    # scale the margin by it. Empty when its options have no such scale (an RL run's beta weighs the KL).
    margin_option: str = ""
    # The learning rate its advice gives with LoRA: the Train tab sets training.learning_rate to it when the
    # method is picked (DPO's is about 100x smaller than SFT's; a rate kept from another method misleads).
    learning_rate: float = 2e-4
    # It writes the answers it sampled while training to RUN/samples.jsonl (the samples panel follows them).
    samples: bool = False
    # The user's own code a run would execute (RL's Python reward functions), one name each, read from the
    # method's options: such a run starts only with the user's yes (studio.safety.consent). None: it runs
    # none.
    user_code: Callable[[Any], list[str]] | None = None

    def __post_init__(self) -> None:
        if self.produces not in PRODUCES:
            raise ValueError(f"Method {self.name}: produces must be one of {', '.join(PRODUCES)}, not "
                             f"{self.produces!r}")

    @property
    def model_kind(self) -> str:
        """What training loads and wraps, read from ``produces``: "causal_lm" or "reward"."""
        return "reward" if self.produces == "reward" else "causal_lm"

    @property
    def short_title(self) -> str:
        """The title without its note in brackets ("DPO"), as a sentence names the method."""
        return self.title.split(" (")[0]

    @property
    def lora_task_type(self) -> str:
        return "SEQ_CLS" if self.produces == "reward" else "CAUSAL_LM"


def without(args: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The shared TrainingArguments less the keys a trainer's config does not have (e.g. RLOO's
    max_length)."""
    return {k: v for k, v in args.items() if k not in keys}


# The one step of each trainer that turns text rows into token ids, where TRL 1.x offers no option to skip it,
# with the parameters it is called with. SFTTrainer has one (``dataset_kwargs={"skip_prepare_dataset":
# True}``)
# and RewardTrainer skips rows that already hold ``chosen_ids``/``rejected_ids``: those need nothing here.
# ORPOTrainer and CPOTrainer map their public ``tokenize_row`` over the rows; DPOTrainer and KTOTrainer have
# only the private ``_prepare_dataset`` (run unless the rows hold images). tests/test_trl_hooks.py fails as
# soon
# as an installed TRL renames one or changes its parameters, and ``as_prepared`` refuses to override a hook
# whose parameters are not these (the rows would be tokenized again, or training would break mid-way).
PREPARE_HOOKS = {
    "_prepare_dataset": ("self", "dataset", "processing_class", "args", "dataset_name"),
    "tokenize_row": ("self", "feature", "model"),
}


def hook_parameters(trainer_cls, hook: str) -> tuple[str, ...]:
    """The parameter names of ``trainer_cls``'s ``hook`` as the installed TRL defines it (empty when
    absent)."""
    import inspect

    method = getattr(trainer_cls, hook, None)
    return tuple(inspect.signature(method).parameters) if callable(method) else ()


def as_prepared(trainer_cls, hook: str = "_prepare_dataset"):
    """``trainer_cls`` taking rows it prepared before (the token cache's) as they are: its ``hook`` (see
    PREPARE_HOOKS), and nothing else, passes the rows through."""
    def as_is(self, dataset, *args, **kwargs):
        return dataset

    def nothing_new(self, feature, *args, **kwargs):
        return {}  # a map that adds no column: the row keeps the ids it has

    if hook not in PREPARE_HOOKS:
        raise ValueError(f"unknown dataset preparation hook {hook!r}")
    found = hook_parameters(trainer_cls, hook)
    if found != PREPARE_HOOKS[hook]:
        name, takes, expected = trainer_cls.__name__, ", ".join(found), ", ".join(PREPARE_HOOKS[hook])
        raise StudioError(f"The installed TRL's {name}.{hook} takes ({takes}), not ({expected}), so cached "
                          "rows cannot be handed to it; install TRL 1.16, the release the studio was tested "
                          "with.")
    return type(f"Prepared{trainer_cls.__name__}", (trainer_cls,),
                {hook: as_is if hook == "_prepare_dataset" else nothing_new})
