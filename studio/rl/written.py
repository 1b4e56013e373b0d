"""Written answers in RL's groups: the data's own chosen and rejected answers beside the sampled ones.

On-policy RL moves the likelihood of what the policy itself samples. The embedded 135M model asked about
pineapple pizza samples short "No, ..." answers, so RL against the reward model raised those and left the
sentences it never writes ("You need a lawyer right away...") where they were: on preference pairs written in
other words it stayed at its base's accuracy while DPO, which trains on written sentences, moved
(bench/RESULTS.md, 2026-12-07). With ``rl.written_answers`` the last two answers of each prompt's group are
the data's chosen and rejected answers for that prompt instead of samples. The reward functions score them
like the sampled ones, and RLOO's advantage (a reward minus the mean of the others') pushes each one up or
down by its *score*, not by its label: a reward model that disagrees with a label wins. This is off-policy
guidance as LUFFY (Yan et al., 2025) mixes demonstrations into GRPO's groups, without its policy shaping:
TRL's RLOO takes one optimisation step per generation here, so a written answer's importance ratio is 1 and
its gradient is its advantage times the gradient of its log-likelihood (the same as a sampled answer's).
"""

from __future__ import annotations

WRITTEN_COLUMNS = ("chosen", "rejected")


def written_slots(prompts: list) -> dict[int, str]:
    """Which answers of a generation batch become written ones: the last two of each run of one prompt
    (TRL repeats each prompt num_generations times in a row), chosen then rejected. A run shorter than 3
    (a group split between processes) keeps all its samples, so every group still samples at least one."""
    slots: dict[int, str] = {}
    start = 0
    for end in range(1, len(prompts) + 1):
        if end == len(prompts) or prompts[end] != prompts[start]:
            if end - start >= 3:
                slots[end - 2], slots[end - 1] = WRITTEN_COLUMNS
            start = end
    return slots


def with_written_answers(trainer_class: type) -> type:
    """TRL's RLOOTrainer with the written answers put in place of samples, before anything scores them
    (its old and reference log-probabilities, the reward functions, the samples table all see them)."""

    from studio.rl.rewards import text_of

    class WrittenAnswersTrainer(trainer_class):
        _rows: tuple | list = ()

        def _generate_and_score_completions(self, inputs):
            self._rows = list(inputs)  # the rows, in the order of the prompts _generate_single_turn gets
            return super()._generate_and_score_completions(inputs)

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields):
            # The written slots are sampled too, then replaced: simpler than asking generate for fewer rows.
            completion_ids = super()._generate_single_turn(prompt_ids, images, multimodal_fields)
            if len(self._rows) != len(completion_ids):  # not the batch we were given: leave it as sampled
                return completion_ids
            limit = self.max_completion_length
            end = self.eos_token_ids[:1]
            for index, column in written_slots([row["prompt"] for row in self._rows]).items():
                text = text_of(self._rows[index][column])  # a string, or the assistant's messages
                ids = self._tokenizer(text, add_special_tokens=False)["input_ids"]
                completion_ids[index] = (ids + end)[:limit]  # ends as a sampled answer does, or is cut
            return completion_ids

    WrittenAnswersTrainer.__name__ = f"WrittenAnswers{trainer_class.__name__}"
    return WrittenAnswersTrainer
