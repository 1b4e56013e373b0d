"""Reward model: RLHF's step 2, a Bradley-Terry model of human comparisons (TRL's RewardTrainer).

The base model gets a one-number head; its loss on a pair is -log σ(r(x, yw) − r(x, yl)), so
σ(rA − rB) reads as the probability that people prefer A. The run is a scorer, not a chat model:
`studio score` and `studio eval` use it, and an RL run (`rl.reward_model`) optimises against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, option


@dataclass
class RewardOptions:
    center_rewards: float = option(
        0.01,
        "Pull the rewards' mean towards 0 (TRL's center_rewards_coefficient); 0.01 is the paper's value, "
        "0 turns it off. Only differences of rewards mean anything; centring keeps them readable.")

    def validate(self) -> None:
        if self.center_rewards < 0:
            raise ConfigError(f"reward.center_rewards cannot be negative (got {self.center_rewards}); 0.01 "
                              "is usual.")


def build(ctx: TrainContext):
    from trl import RewardConfig, RewardTrainer

    opts: RewardOptions = ctx.options
    args = RewardConfig(center_rewards_coefficient=opts.center_rewards or None, **ctx.common_args)
    trainer = RewardTrainer(model=ctx.model, args=args, train_dataset=ctx.dataset,
                            eval_dataset=ctx.eval_dataset,
                            processing_class=ctx.tokenizer, callbacks=ctx.callbacks)
    if len(trainer.train_dataset) == 0:  # TRL drops pairs longer than max_length instead of cutting them
        raise ConfigError(f"Every pair is longer than training.max_length ({args.max_length} tokens) once "
                          "rendered "
                          "with the chat template, and a reward model skips such pairs; raise max_length.")
    return trainer


METHOD = Method(
    name="reward",
    learning_rate=5e-5,  # the advice's, with LoRA (set when the method is picked)
    order=20,
    title="Reward model (RLHF step 2)",
    full_name="Bradley-Terry reward model",
    description="Reward model: learns to score answers so that chosen ones score above rejected ones.",
    data_kind="preference",
    build=build,
    options=RewardOptions,
    advice=(
        "A **reward model** is RLHF's step 2: it learns a score r(x, y) from comparisons with the "
        "Bradley-Terry "
        "loss -log σ(r(x, y_chosen) − r(x, y_rejected)). It does not chat: use it with **`studio score`** "
        "(two "
        "answers in, both rewards and P(A preferred) = σ(rA − rB) out), check it with `studio eval --pairs` "
        "(pairwise accuracy on held-out pairs), then name its run folder as `rl.reward_model` in an **RL** "
        "recipe (step 3). Advice from the field: **1 epoch** is usually enough (it overfits fast), a LoRA "
        "learning rate around **1e-4 to 1e-5**, a **cosine** schedule; judge it by held-out accuracy, not by "
        "its training loss."
    ),
    card_line="A Bradley-Terry reward model (LoRA plus a score head) trained on chosen/rejected pairs with "
              "TRL's RewardTrainer.",
    charts=(
        Chart("Reward model", {"accuracy": "pairwise accuracy", "margin": "reward margin"}),
        Chart("Rewards", {"mean_reward": "mean", "min_reward": "min", "max_reward": "max"}),
    ),
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("pineapple-reward.yaml",),
    produces="reward",
)
