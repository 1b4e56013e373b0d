"""DPO: direct preference optimisation on chosen/rejected pairs (TRL's DPOTrainer).

Its loss is -log σ(β·log πθ(yw|x)/πref(yw|x) − β·log πθ(yl|x)/πref(yl|x)): no reward model, the
policy's own log-ratios against a frozen reference stand in for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, as_prepared, option

# TRL 1.x's DPO loss types (trl/trainer/dpo_trainer.py), each with one line a learner can act on.
LOSS_TYPES = {
    "sigmoid": "the original DPO loss, -log σ(β·margin); the usual choice",
    "ipo": "IPO: a squared loss that stops at a target margin of 1/(2β), so it overfits less on small data",
    "hinge": "SLiC: a hinge on β·margin; pairs already far enough apart stop counting",
    "robust": "Robust DPO: assumes some labels are flipped (label smoothing), for noisy preferences",
    "bco_pair": "BCO: chosen and rejected judged on their own, each against the reference",
    "sppo_hard": "SPPO with hard labels: pushes chosen up and rejected down by a fixed amount",
    "nca_pair": "NCA: also keeps the chosen answer's likelihood from falling",
    "exo_pair": "EXO: minimises reverse KL to the preferences instead of the forward one",
    "aot": "AOT: aligns the distribution of margins across the batch (optimal transport)",
    "aot_unpaired": "AOT for unpaired data: sorts chosen and rejected log-ratios separately",
    "apo_zero": "APO-zero: when the chosen answers are better than the model's own, raise them",
    "apo_down": "APO-down: when even the chosen answers are worse than the model's own, lower both",
    "discopop": "DiscoPOP: a discovered blend of the logistic and exponential losses",
    "sigmoid_norm": "DPO on per-token average log-ratios, so long answers do not dominate",
}


@dataclass
class DPOOptions:
    loss_type: str = option(
        "sigmoid", "Which DPO loss (TRL's loss_type); each choice says what it does. " + "; ".join(
            f"{name}: {text}" for name, text in LOSS_TYPES.items()) + ".",
        # (label, value): the UI's dropdown shows each loss with its one line of help.
        choices=[(f"{name} - {text}", name) for name, text in LOSS_TYPES.items()])
    beta: float = option(
        0.1, "How far the model may move from the reference. 0.01-1.0; lower lets it move further.")
    sft_weight: float = option(
        0.0,
        "Weight of an extra SFT loss on the chosen answers (as in RPO). 0 is plain DPO; 0.5-1.0 keeps "
        "answers fluent when a small dataset would otherwise make them repeat themselves.",
        label="SFT weight",
    )
    precompute_ref: bool = option(
        False, "Compute the reference model's log-probabilities once, before training (TRL's "
        "precompute_ref_log_probs), instead of a second forward pass at every step: each step is about a "
        "third cheaper, and a rerun on the same data reuses them from the data cache.")

    def validate(self) -> None:
        if not 0 < self.beta <= 10:
            raise ConfigError(f"DPO beta must be above 0 and at most 10 (got {self.beta}); 0.1 is the usual "
                              "start.")
        if self.sft_weight < 0:
            raise ConfigError(f"The SFT weight cannot be negative (got {self.sft_weight}); 0 means plain "
                              "DPO.")


def build(ctx: TrainContext):
    from trl import DPOConfig, DPOTrainer

    opts: DPOOptions = ctx.options
    losses = ({"loss_type": [opts.loss_type, "sft"],
               "loss_weights": [1.0, opts.sft_weight]} if opts.sft_weight
              else {"loss_type": [opts.loss_type]})
    # The one-off reference pass has no gradients to keep, so it takes bigger batches than training.
    precompute = ({"precompute_ref_log_probs": True,
                   "precompute_ref_batch_size": 2 * ctx.common_args["per_device_train_batch_size"]}
                  if opts.precompute_ref else {})
    args = DPOConfig(beta=opts.beta, **losses, **precompute, **ctx.common_args)
    # With a PEFT model and no ref_model, TRL uses the base with the adapter disabled as the
    # reference: no second copy of the model in memory.
    trainer_cls = as_prepared(DPOTrainer) if ctx.prepared else DPOTrainer
    return trainer_cls(model=ctx.model, ref_model=None, args=args, train_dataset=ctx.dataset,
                       eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="dpo",
    learning_rate=5e-6,  # the advice's, with LoRA (set when the method is picked)
    order=40,
    title="DPO (preferences)",
    full_name="Direct Preference Optimization (DPO)",
    description="Direct preference optimisation: prefer the chosen answer over the rejected one.",
    data_kind="preference",
    build=build,
    options=DPOOptions,
    advice=(
        "**DPO** learns from pairs: for each prompt a *chosen* and a *rejected* answer. Advice from the "
        "field: **beta 0.01-1.0** (lower lets the model move further from where it started); a **learning "
        "rate about 100x smaller than for SFT** (5e-7 for all weights, ~5e-6 with LoRA; the pineapple demo "
        "uses a far higher one so a tiny model moves visibly in 7 steps); a **cosine** schedule; "
        "**Adam(W)**. "
        "The best SFT model is not always the best starting point for DPO: try more than one."
    ),
    card_line="Direct preference optimisation (DPO) on chosen/rejected pairs, with TRL's DPOTrainer.",
    charts=(
        Chart("DPO rewards", {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy"}),
        Chart("Log-probabilities", {"logps/chosen": "chosen", "logps/rejected": "rejected"}),
    ),
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("pineapple-dpo.yaml", "zephyr-style-dpo.yaml"),
    reference_model=True,
    margin_option="beta",
    parallel_data=True,
    sequences_per_example=2,  # chosen and rejected go through the model together
)
