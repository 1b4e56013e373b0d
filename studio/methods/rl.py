"""RL against a reward model and/or verifiable reward functions: RLHF's step 3 (TRL's RLOO or GRPO).

For each prompt the policy samples several answers, the reward run scores them, and each answer's
advantage is its reward minus the mean of the others' (no value model). TRL's RLOO subtracts
β·KL(π‖πref) from the reward, so the objective is the textbook E[r(x, y)] − β·KL(π‖πref); with LoRA
the reference is the base with the adapter off. Three models, as the story says: the policy, its
reference and the reward model (here two copies of weights in memory: policy+reference, reward).
Instead of (or beside) the reward model, `rl.reward_functions` lists checks with weights
(studio.rl.rewards: match, regex, length, contains, avoids, json, python); `rl.algorithm: grpo`
picks GRPOTrainer (advantage = reward minus the group mean, over the group's spread).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, option, without


@dataclass
class RLOptions:
    algorithm: str = option(
        "rloo",
        "rloo: TRL's RLOOTrainer (each answer against the mean of the others); grpo: TRL's GRPOTrainer "
        "(against the group's mean, over its spread).", choices=["rloo", "grpo"])
    reward_model: str = option(
        "", "The reward model to optimise against: a reward run's folder, run id, or run name (the newest "
        "finished reward run of that name), e.g. pineapple-reward after `studio train "
        "presets/recipes/pineapple-reward.yaml`.")
    beta: float = option(
        0.05,
        "β, the KL weight: reward minus β·KL to the starting model. Higher keeps answers close to the base "
        "(and fluent); 0 lets the policy chase the reward freely (and exploit its blind spots).")
    num_generations: int = option(
        4,
        "Answers sampled per prompt; each is judged against the mean of the others. The batch size must be "
        "a multiple of it.")
    max_completion_length: int = option(48, "Longest sampled answer in tokens; generation dominates the step "
                                            "time.")
    temperature: float = option(1.0, "Sampling temperature for the answers; RL needs variety to learn from.")
    reward_functions: list = option(  # noqa: RUF009
        [], "Verifiable rewards, each with a weight, added to the reward model's score (or used alone), e.g. "
        "[{type: regex, pattern: '^No\\b', weight: 1.0}]. Types: match (column, number), regex (pattern), "
        "length (min_words, max_words), contains / avoids (words), json (schema), python (function: "
        "file.py:name, TRL's reward-function signature; needs rl.allow_python_rewards).")
    allow_python_rewards: bool = option(
        False,
        "Run the Python reward functions rl.reward_functions names (your own code runs in the trainer).")
    written_answers: bool = option(
        False,
        "Put the data's own chosen and rejected answers in each prompt's group in place of the last two "
        "samples; the rewards score them like the others, so RL also moves sentences the model would not "
        "write (RLOO; needs preference pairs and at least 4 answers per prompt).")

    def __post_init__(self) -> None:
        from studio.rl.rewards import parse_specs

        # The UI's text box gives YAML text; a recipe gives a list. Keep the list, as a recipe writes it.
        if isinstance(self.reward_functions, str):
            self.reward_functions = [
                {"type": s.type, "weight": s.weight, **s.params}
                for s in parse_specs(self.reward_functions, allow_python=True)]

    def validate(self) -> None:
        from studio.rl.rewards import parse_specs

        specs = parse_specs(self.reward_functions, allow_python=self.allow_python_rewards)
        if not self.reward_model.strip() and not specs:
            raise ConfigError("RL needs something to reward: set rl.reward_model to a reward run (train one "
                              "with "
                              "presets/recipes/pineapple-reward.yaml) or list rl.reward_functions, e.g. "
                              "[{type: regex, pattern: '^No'}].")
        if self.algorithm not in ("rloo", "grpo"):
            raise ConfigError(f"rl.algorithm must be rloo or grpo (got '{self.algorithm}').")
        if self.beta < 0:
            raise ConfigError(f"RL beta (the KL weight) cannot be negative (got {self.beta}); 0.05 is usual.")
        if self.num_generations < 2:
            raise ConfigError("RL needs at least 2 answers per prompt to compare (got "
                              f"{self.num_generations}).")
        if self.written_answers and (self.algorithm != "rloo" or self.num_generations < 4):
            raise ConfigError("rl.written_answers needs rl.algorithm rloo and at least 4 answers per prompt "
                              f"(got {self.algorithm} and {self.num_generations}): two are the written ones.")
        if self.max_completion_length < 1 or self.temperature <= 0:
            raise ConfigError("rl.max_completion_length must be at least 1 and rl.temperature above 0.")


def reward_run_dir(value: str) -> Path:
    """The reward run a recipe names, or one sentence saying what to give instead (nothing heavy loads)."""
    from studio.runs.adapters import adapter_dir_of, adapter_method, find_run, is_reward_run

    text = (value or "").strip()
    if not text:
        raise ConfigError("RL needs a reward model: set rl.reward_model to a reward run's folder or name "
                          "(train one with presets/recipes/pineapple-reward.yaml first).")
    path = find_run(text)
    if path is None:
        raise ConfigError(f"No finished reward run found at '{text}'; give a reward run's folder or name "
                          "(`studio runs` lists them), or train one with "
                          "presets/recipes/pineapple-reward.yaml.")
    if not is_reward_run(path):
        method = adapter_method(adapter_dir_of(path)) or "another method"
        raise ConfigError(
            f"rl.reward_model {text} was trained with {method}, not as a reward model; RL needs a run of the "
            "reward method (pineapple-reward.yaml trains one).")
    return path


def python_rewards(opts: RLOptions) -> list[str]:
    """The user's Python reward functions the options name: they run only with the user's yes."""
    return [f"the Python reward function {item.get('function', '?')}" for item in opts.reward_functions or []
            if isinstance(item, dict) and item.get("type") == "python"]


def build(ctx: TrainContext):
    from studio.rl.rewards import build_functions, columns_needed, parse_specs
    from studio.rl.samples import SampleRecorder

    opts: RLOptions = ctx.options
    funcs, weights = [], []
    if opts.reward_model.strip():
        from studio.evaluation.reward import RewardModel

        reward_dir = reward_run_dir(opts.reward_model)
        # A run name resolves to the newest reward run of that name: say which one, for the record.
        logging.getLogger(__name__).info("Reward model: %s", reward_dir)
        scorer = RewardModel(reward_dir)

        def reward_model(prompts, completions, **_):  # TRL logs it as rewards/reward_model/mean
            return scorer.score(list(zip(prompts, completions)))

        funcs.append(reward_model)
        weights.append(1.0)
    specs = parse_specs(opts.reward_functions, allow_python=opts.allow_python_rewards)
    checks, check_weights = build_functions(specs)
    funcs += checks
    weights += check_weights
    if opts.algorithm == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config
        from trl import RLOOTrainer as Trainer
    args = Config(beta=opts.beta, num_generations=opts.num_generations, reward_weights=weights,
                  max_completion_length=opts.max_completion_length, temperature=opts.temperature,
                  **without(ctx.common_args, "max_length"))
    # Only the prompts are used (and the columns a `match` check compares with): the answers come from the
    # policy, their scores from the reward model and the checks.
    keep = ["prompt", *(c for c in dict.fromkeys(columns_needed(specs)) if c in ctx.dataset.column_names)]
    missing = [c for c in columns_needed(specs) if c not in ctx.dataset.column_names]
    if missing:
        raise ConfigError(f"A match reward compares with the column {missing[0]}, which the data lacks; its "
                          f"columns are {', '.join(ctx.dataset.column_names)}.")
    if opts.written_answers:  # RL's data is preference pairs (the method's data_kind): the answers are there
        from studio.rl.written import WRITTEN_COLUMNS, with_written_answers

        keep += [c for c in WRITTEN_COLUMNS if c not in keep]
        Trainer = with_written_answers(Trainer)
    # What RL sampled and how each answer was scored (what the reward functions are given and return),
    # appended to RUN/samples.jsonl at every logged step.
    recorder = SampleRecorder(ctx.run_dir, weights, opts.num_generations,
                              leave_one_out=opts.algorithm != "grpo", written_answers=opts.written_answers)
    return Trainer(model=ctx.model, reward_funcs=[recorder.wrap(f) for f in funcs], args=args,
                   train_dataset=ctx.dataset.select_columns(keep), processing_class=ctx.tokenizer,
                   callbacks=[*ctx.callbacks, recorder.callback()])


METHOD = Method(
    name="rl",
    learning_rate=1e-5,  # the advice's, with LoRA (set when the method is picked)
    order=30,
    title="RL on a reward model (RLHF step 3)",
    full_name="Reinforcement learning from a reward model (RLOO)",
    description="RL (RLHF step 3): samples answers, scores them with a reward run and/or checks "
                "(rl.reward_functions), "
                "maximises reward − β·KL.",
    data_kind="preference",
    build=build,
    options=RLOptions,
    no_eval_curve="an RL run is judged by the reward it earns, which its charts already draw",
    advice=(
        "**RL against a reward model** is RLHF's step 3: for each prompt the model samples several answers, "
        "the reward model (a run of the **reward** method, named in `rl.reward_model`) scores them, and the "
        "model is pushed towards the better ones while **β·KL** keeps it near where it started: maximise "
        "E[r(x, y)] − β·KL(π‖π_ref). TRL's **RLOO** judges each answer against the mean of the others, so no "
        "value model is needed. Only the data's **prompts** are used (with `rl.written_answers`, its chosen "
        "and rejected answers also join each group, scored like the samples). Advice from the field: "
        "**β 0.01-0.1**; "
        "4-8 answers per prompt; a LoRA learning rate around 1e-5 (the pineapple demo uses a higher one); "
        "watch the **KL** and the answer **length**: a reward that climbs while answers turn odd means the "
        "policy found the reward model's blind spots (reward hacking). **Verifiable rewards** "
        "(`rl.reward_functions`: the right number, a regex, a length, words, valid JSON, your own Python) "
        "replace or join the reward model; `rl.algorithm: grpo` is TRL's **GRPO**. The *What RL sampled* "
        "table "
        "shows each answer with its rewards and advantage."
    ),
    card_line="Reinforcement learning against a Bradley-Terry reward model and/or verifiable reward "
              "functions "
              "(RLHF step 3) with TRL's RLOOTrainer or GRPOTrainer, reward minus β·KL to the base.",
    charts=(
        # Beside the total, one line per reward function: TRL logs rewards/<function name>/mean.
        Chart("Reward", {"reward": "mean reward", "reward_std": "reward spread", **{
            f"rewards/{name}/mean": name for name in (
                "reward_model", "match", "regex", "length", "contains", "avoids", "json")}}),
        Chart("KL and length", {"kl": "KL to the base", "completions/mean_length": "answer length (tokens)"}),
    ),
    recipes=("pineapple-rlhf.yaml", "arithmetic-grpo.yaml"),
    reference_model=True,
    samples=True,
    user_code=python_rewards,
    preflight=lambda opts: reward_run_dir(opts.reward_model) if opts.reward_model.strip() else None,
)
