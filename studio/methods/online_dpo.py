"""Online DPO against a reward model: RL from feedback that learns from the policy's own answers.

Offline DPO learns from fixed pairs someone wrote; RLOO (studio/methods/rl.py) follows the reward's
scalar through sampled answers. Online DPO (Guo et al. 2024, "Direct Language Model Alignment from
Online AI Feedback"; TRL's experimental OnlineDPOTrainer) does both at once: for each prompt the policy
samples two answers, the reward run ranks them, and the DPO loss is taken on that fresh pair (with LoRA
the reference is the base with the adapter off). The pairs are the model's own wording, so what it learns
is what the reward model ranks, not the sentences of one file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, option


@dataclass
class OnlineDPOOptions:
    reward_model: str = option(
        "", "The reward run that ranks each pair of sampled answers: its folder, run id or name (the newest "
        "finished reward run of that name), e.g. pineapple-reward.")
    beta: float = option(
        0.1, "β of the DPO loss on each fresh pair: higher keeps the model closer to where it started.")
    max_new_tokens: int = option(32, "Longest sampled answer in tokens; generation dominates the step time.")
    temperature: float = option(
        0.7, "Sampling temperature of the two answers: they must differ for the reward model to rank them.")
    loss_type: str = option("sigmoid", "sigmoid: DPO's loss; ipo: IPO's squared loss.",
                            choices=["sigmoid", "ipo"])

    def validate(self) -> None:
        if not self.reward_model.strip():
            raise ConfigError("Online DPO needs a reward model to rank the answers: set "
                              "online_dpo.reward_model to a reward run (train one with "
                              "presets/recipes/pineapple-reward.yaml).")
        if self.beta <= 0:
            raise ConfigError(f"Online DPO's beta must be above 0 (got {self.beta}); 0.1 is usual.")
        if self.max_new_tokens < 1 or self.temperature <= 0:
            raise ConfigError("online_dpo.max_new_tokens must be at least 1 and online_dpo.temperature "
                              "above 0.")


def _reward_run(opts: OnlineDPOOptions):
    from studio.methods.rl import reward_run_dir  # the one place a recipe's reward run is found

    return reward_run_dir(opts.reward_model)


def build(ctx: TrainContext):
    import warnings

    from studio.evaluation.reward import RewardModel

    with warnings.catch_warnings():  # TRL's "experimental API" notice: the tests check the API used here
        warnings.simplefilter("ignore")
        from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    opts: OnlineDPOOptions = ctx.options
    reward_dir = _reward_run(opts)
    logging.getLogger(__name__).info("Reward model: %s", reward_dir)
    scorer = RewardModel(reward_dir)

    def reward_model(prompts, completions, **_):  # TRL ranks the two answers of each prompt by this score
        return scorer.score(list(zip(prompts, completions)))

    args = OnlineDPOConfig(beta=opts.beta, loss_type=opts.loss_type, max_new_tokens=opts.max_new_tokens,
                           temperature=opts.temperature, **ctx.common_args)
    # Only the prompts are used: both answers come from the policy, their order from the reward model.
    return OnlineDPOTrainer(model=ctx.model, reward_funcs=reward_model, args=args,
                            train_dataset=ctx.dataset.select_columns(["prompt"]),
                            processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="online_dpo",
    learning_rate=5e-6,  # offline DPO's advice, with LoRA (set when the method is picked)
    order=32,
    title="Online DPO on a reward model (RLHF)",
    full_name="Online Direct Preference Optimization against a reward model (online AI feedback)",
    description="Online DPO: samples two answers per prompt, the reward run picks the better, DPO learns "
                "from that fresh pair.",
    data_kind="preference",
    build=build,
    options=OnlineDPOOptions,
    no_eval_curve="an online DPO run learns from pairs it samples, so its charts draw the reward those "
                  "pairs earn",
    advice=(
        "**Online DPO** is RL from feedback with DPO's loss: for each prompt the model samples **two "
        "answers**, the **reward model** (a run of the reward method, `online_dpo.reward_model`) says which "
        "is better, and DPO pushes the model towards it on that fresh pair. Unlike offline DPO it learns "
        "from its *own* wording rather than the sentences of one file; unlike RLOO it needs only a ranking "
        "of two answers, not a calibrated score. Only the data's **prompts** are used. Advice: β 0.05-0.1, "
        "a temperature that keeps the two answers different (0.7-1.0), and watch the **score margin** "
        "between the chosen and rejected samples and the **KL**."
    ),
    card_line="Online DPO (Guo et al. 2024) with TRL's OnlineDPOTrainer: two sampled answers per prompt, "
              "ranked by a Bradley-Terry reward model, DPO's loss on each fresh pair.",
    charts=(
        Chart("Reward of the samples", {"objective/scores": "mean score",
                                        "objective/scores_margin": "chosen minus rejected score"}),
        Chart("KL and margins", {"objective/kl": "KL to the base", "rewards/margins": "DPO reward margin"}),
    ),
    recipes=("pineapple-online-dpo.yaml",),
    reference_model=True,
    sequences_per_example=2,
    preflight=lambda opts: _reward_run(opts),
)
