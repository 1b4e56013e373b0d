"""ORPO: odds-ratio preference optimisation, SFT and preference in one loss, no reference model
(TRL's ORPOTrainer). Its loss is the chosen answer's NLL plus λ·(−log σ(log odds(yw) − log odds(yl)))."""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, as_prepared, option


@dataclass
class ORPOOptions:
    beta: float = option(
        0.1, "λ, the weight of the odds-ratio (preference) term beside the SFT loss on chosen answers. "
        "0.1 as in the paper; higher pushes preferences harder. No reference model: less memory than DPO.")

    def validate(self) -> None:
        if not 0 < self.beta <= 10:
            raise ConfigError(f"ORPO beta (λ) must be above 0 and at most 10 (got {self.beta}); 0.1 is the "
                              "paper's.")


def build(ctx: TrainContext):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    opts: ORPOOptions = ctx.options
    args = ORPOConfig(beta=opts.beta, **ctx.common_args)
    trainer_cls = as_prepared(ORPOTrainer, "tokenize_row") if ctx.prepared else ORPOTrainer
    return trainer_cls(model=ctx.model, args=args, train_dataset=ctx.dataset, eval_dataset=ctx.eval_dataset,
                       processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="orpo",
    learning_rate=5e-5,  # the advice's, with LoRA (set when the method is picked)
    order=60,
    title="ORPO (preferences, no reference)",
    full_name="Odds Ratio Preference Optimization (ORPO)",
    description="ORPO: SFT on the chosen answers plus an odds-ratio penalty on the rejected, without a "
                "reference.",
    data_kind="preference",
    build=build,
    options=ORPOOptions,
    advice=(
        "**ORPO** trains on preference pairs in **one stage**: an SFT loss on the chosen answer plus a "
        "penalty "
        "that raises its odds against the rejected one. It needs **no reference model**, so it uses less "
        "memory "
        "than DPO and can start from a base that was never fine-tuned. Advice from the field: **λ (beta) "
        "0.1**; "
        "a learning rate between SFT's and DPO's (~8e-6 full, ~1e-5 to 1e-4 with LoRA); a **cosine** or "
        "linear "
        "schedule; **Adam(W)**."
    ),
    card_line="Odds-ratio preference optimisation (ORPO, no reference model) on chosen/rejected pairs, with "
              "TRL's ORPOTrainer.",
    charts=(
        Chart("ORPO rewards", {"rewards/margins": "reward margin", "rewards/accuracies": "reward accuracy"}),
        Chart("ORPO terms", {"nll_loss": "SFT loss (chosen)", "log_odds_ratio": "log odds ratio"}),
    ),
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("pineapple-orpo.yaml",),
)
