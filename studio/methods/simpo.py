"""SimPO: simple preference optimisation, no reference model (TRL's CPOTrainer with loss_type simpo).

Its loss is −log σ(β/|yw|·log π(yw|x) − β/|yl|·log π(yl|x) − γ): length-normalised log-probabilities
stand in for the reward and γ is a target margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, as_prepared, option


@dataclass
class SimPOOptions:
    beta: float = option(
        2.0,
        "Scale of the length-normalised reward; SimPO's β is far larger than DPO's: 2.0-2.5 in the paper. "
        "No reference model: less memory than DPO.")
    gamma_ratio: float = option(
        0.5, "Target margin γ as a fraction of beta (γ = ratio x β); 0.3-0.6 in the paper.")
    sft_weight: float = option(
        0.0, "Weight of an extra SFT loss on chosen answers (CPO-SimPO); 0 is plain SimPO.")

    def validate(self) -> None:
        if not 0 < self.beta <= 50:
            raise ConfigError(f"SimPO beta must be above 0 and at most 50 (got {self.beta}); 2.0 is the "
                              "usual start.")
        if not 0 <= self.gamma_ratio <= 2:
            raise ConfigError(f"SimPO gamma_ratio must be between 0 and 2 (got {self.gamma_ratio}); 0.5 is "
                              "usual.")
        if self.sft_weight < 0:
            raise ConfigError(f"The SFT weight cannot be negative (got {self.sft_weight}); 0 means plain "
                              "SimPO.")


def build(ctx: TrainContext):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    opts: SimPOOptions = ctx.options
    args = CPOConfig(loss_type="simpo", beta=opts.beta, simpo_gamma=opts.gamma_ratio * opts.beta,
                     cpo_alpha=opts.sft_weight, **ctx.common_args)
    trainer_cls = as_prepared(CPOTrainer, "tokenize_row") if ctx.prepared else CPOTrainer
    return trainer_cls(model=ctx.model, args=args, train_dataset=ctx.dataset, eval_dataset=ctx.eval_dataset,
                       processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="simpo",
    learning_rate=1e-5,  # the advice's, with LoRA (set when the method is picked)
    order=70,
    title="SimPO (preferences, no reference)",
    full_name="Simple Preference Optimization (SimPO)",
    description="SimPO: length-normalised log-probabilities as the reward, a target margin, no reference "
                "model.",
    data_kind="preference",
    build=build,
    options=SimPOOptions,
    advice=(
        "**SimPO** is DPO without the reference model: the reward is the answer's **average** "
        "log-probability "
        "(so long answers get no edge) and the loss asks chosen to beat rejected by a margin γ. **No "
        "reference "
        "model**, so less memory and faster steps than DPO. Advice from the field: **beta 2.0-2.5** (far "
        "larger "
        "than DPO's), **γ/β about 0.5**; a small learning rate (3e-7 to 1e-6 full, ~1e-5 with LoRA; SimPO is "
        "sensitive to it); a **cosine** schedule; **Adam(W)**."
    ),
    card_line="Simple preference optimisation (SimPO, no reference model) on chosen/rejected pairs, with "
              "TRL's "
              "CPOTrainer (loss simpo).",
    charts=(
        Chart("SimPO rewards", {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy"}),
        Chart("Log-probabilities", {"logps/chosen": "chosen", "logps/rejected": "rejected"}),
    ),
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("pineapple-simpo.yaml",),
)
