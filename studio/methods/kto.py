"""KTO: Kahneman-Tversky optimisation on answers labelled good or bad, one at a time (TRL's KTOTrainer).

It needs no pairs: each row is a prompt, one answer and a thumbs up or down. Preference pairs are
unpaired here (the chosen answer becomes a good example, the rejected one a bad one), which is what
TRL's unpair_preference_dataset does; the studio's data package reads pairs, so that is the route in.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, as_prepared, option


@dataclass
class KTOOptions:
    beta: float = option(
        0.1,
        "How far the model may move from the reference, as in DPO. 0.01-1.0; lower lets it move further.")
    desirable_weight: float = option(
        1.0,
        "Weight of the good answers' loss. With unequal counts, keep weight x count of good between 1 and "
        "4/3 of weight x count of bad (the KTO paper's advice).")
    undesirable_weight: float = option(1.0, "Weight of the bad answers' loss (see desirable_weight).")

    def validate(self) -> None:
        if not 0 < self.beta <= 10:
            raise ConfigError(f"KTO beta must be above 0 and at most 10 (got {self.beta}); 0.1 is the usual "
                              "start.")
        if self.desirable_weight <= 0 or self.undesirable_weight <= 0:
            raise ConfigError("KTO's desirable and undesirable weights must both be above 0; 1.0 each is "
                              "usual.")


def unpaired(dataset):
    """Pairs become labelled single answers (chosen -> good, rejected -> bad); labelled data passes
    through."""
    from trl import unpair_preference_dataset

    if {"completion", "label"} <= set(dataset.column_names):
        return dataset
    return unpair_preference_dataset(dataset)


def build(ctx: TrainContext):
    from trl import KTOConfig, KTOTrainer

    opts: KTOOptions = ctx.options
    args = KTOConfig(beta=opts.beta, desirable_weight=opts.desirable_weight,
                     undesirable_weight=opts.undesirable_weight, **ctx.common_args)
    # With a PEFT model and no ref_model, the base with the adapter off is the reference (no second copy).
    if ctx.prepared:
        return as_prepared(KTOTrainer)(model=ctx.model, ref_model=None, args=args, train_dataset=ctx.dataset,
                                       eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer,
                                       callbacks=ctx.callbacks)
    return KTOTrainer(model=ctx.model, ref_model=None, args=args, train_dataset=unpaired(ctx.dataset),
                      eval_dataset=None if ctx.eval_dataset is None else unpaired(ctx.eval_dataset),
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="kto",
    learning_rate=5e-6,  # the advice's, with LoRA (set when the method is picked)
    order=50,
    title="KTO (good/bad labels)",
    full_name="Kahneman-Tversky Optimization (KTO)",
    description="KTO: learns from single answers marked good or bad; pairs are split into one good and one "
                "bad.",
    data_kind="kto",  # labelled single answers, or preference pairs (unpaired below)
    build=build,
    options=KTOOptions,
    advice=(
        "**KTO** learns from answers marked **good or bad one at a time**: no pairs needed, so thumbs "
        "up/down "
        "collected from users is enough. Here preference pairs are split: each chosen answer is a good "
        "example, "
        "each rejected one a bad one. Like DPO it keeps a frozen reference (with LoRA: the base with the "
        "adapter "
        "off). Advice from the field: **beta 0.01-1.0** (0.1 to start); a **learning rate about 100x smaller "
        "than for SFT** (~5e-6 with LoRA; the pineapple demo uses a far higher one to move a tiny model in a "
        "few steps); a **cosine** schedule; **Adam(W)**; a **batch of at least 4** (KTO estimates its KL "
        "baseline from mismatched answers within the batch)."
    ),
    card_line="Kahneman-Tversky optimisation (KTO) on answers labelled good or bad, with TRL's KTOTrainer.",
    charts=(
        Chart("KTO rewards", {"rewards/chosen": "good answers", "rewards/rejected": "bad answers",
                              "kl": "KL"}),
        Chart("Log-probabilities", {"logps/chosen": "good", "logps/rejected": "bad"}),
    ),
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("pineapple-kto.yaml",),
    reference_model=True,
    margin_option="beta",
)
