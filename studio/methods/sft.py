"""SFT: supervised fine-tuning on demonstrations (TRL's SFTTrainer)."""

from __future__ import annotations

import logging

from studio.methods.base import Method, TrainContext

log = logging.getLogger(__name__)


def assistant_only(tokenizer, dataset) -> bool:
    """Train on assistant turns only when the data is conversational and the template can mark them.

    The rule lives in studio.data.prepare.preview.sft_plan, so the preview marks exactly what is trained on.
    """
    from studio.data.prepare.preview import sft_plan

    if "messages" not in dataset.column_names:
        return False
    plan = sft_plan(tokenizer)
    if plan.note:
        log.info(plan.note)
    return plan.assistant_only


def build(ctx: TrainContext):
    from trl import SFTConfig, SFTTrainer

    from studio.data.prepare.trainer_ready import prepare_sft_dataset

    # Weight-0 turns, raw text (packed) and tool calls are tokenized by the data layer, which marks
    # exactly what is trained on; TRL keeps a dataset that already has input_ids and labels as it is.
    if ctx.prepared:  # rows SFTTrainer tokenized, labelled and truncated last time: TRL's own skip
        args = SFTConfig(dataset_kwargs={"skip_prepare_dataset": True}, **ctx.common_args)
        return SFTTrainer(model=ctx.model, args=args, train_dataset=ctx.dataset,
                          eval_dataset=ctx.eval_dataset, processing_class=ctx.tokenizer,
                          callbacks=ctx.callbacks)
    dataset = prepare_sft_dataset(ctx.dataset, ctx.tokenizer, ctx.common_args["max_length"])
    args = SFTConfig(assistant_only_loss=assistant_only(ctx.tokenizer, dataset), **ctx.common_args)
    evals = None if ctx.eval_dataset is None else prepare_sft_dataset(ctx.eval_dataset, ctx.tokenizer,
                                                                     ctx.common_args["max_length"])
    return SFTTrainer(model=ctx.model, args=args, train_dataset=dataset, eval_dataset=evals,
                      processing_class=ctx.tokenizer, callbacks=ctx.callbacks)


METHOD = Method(
    name="sft",
    order=10,
    title="SFT (demonstrations)",
    full_name="Supervised fine-tuning (SFT)",
    description="Supervised fine-tuning: the model imitates example answers.",
    data_kind="sft",
    build=build,
    advice=(
        "**SFT** (supervised fine-tuning) learns from example conversations: the model imitates the "
        "assistant's answers. With LoRA a learning rate of about 1e-4 to 2e-4, a cosine schedule, AdamW "
        "and 1-3 epochs is a sound start."
    ),
    card_line="Supervised fine-tuning (SFT) on demonstrations, with TRL's SFTTrainer.",
    takes_prepared=True,  # a token-cache hit: build() hands the stored rows over as prepared
    recipes=("sft-chat.yaml", "zephyr-style-sft.yaml", "pineapple-sft.yaml"),
    parallel_data=True,
)
