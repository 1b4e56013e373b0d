"""Classify: fine-tune an encoder (or a chat model with a classification head) to label a text, a pair of
texts or each word: the course's first way to use a language model.

What to tune is the course's three answers, one key (``classify.train``): ``full`` (every weight),
``head`` (the encoder frozen, only the new head learns, on features computed once per example) or
``lora`` (PEFT SEQ_CLS/TOKEN_CLS adapters, the head named in ``modules_to_save`` so it is saved in full).
It trains with transformers' ``Trainer`` (a classifier is not a TRL task); studio.training.classifier
loads the labelled data and the model and hands this module a model ready for its strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.errors import ConfigError
from studio.methods.base import Chart, Method, TrainContext, option, without

STRATEGIES = ("full", "head", "lora")


@dataclass
class ClassifyOptions:
    train: str = option("lora", "What to tune: 'full' (every weight), 'head' (the encoder frozen, only the "
                                "new "
                        "head learns, its features computed once) or 'lora' (small adapters plus the head).",
                        choices=[("The whole network", "full"), ("The head only", "head"),
                                 ("LoRA adapters", "lora")],
                        label="What to tune")
    task: str = option("auto", "The task: 'auto' (read from the data's columns), 'text' (a text and a "
                               "label), "
                       "'pair' (two texts and a label) or 'tokens' (a tag per word).",
                       choices=["auto", "text", "pair", "tokens"])
    class_weights: bool = option(True, "Weigh each label's loss by how rare it is (balanced), so a frequent "
                                 "label cannot win by being predicted for everything.")
    head_learning_rate: float = option(2e-3, "Learning rate of the new head (it starts random, so it needs "
                                             "more "
                                       "than the pretrained weights' training.learning_rate).")

    def validate(self) -> None:
        if self.train not in STRATEGIES:
            raise ConfigError(f"classify.train must be full, head or lora, not '{self.train}'.")
        if not 0 < self.head_learning_rate < 1:
            raise ConfigError(f"classify.head_learning_rate must be above 0 and below 1 (got "
                              f"{self.head_learning_rate}); 1e-3 to 5e-3 is usual.")


def label_weights(targets, num_labels: int, multi_label: bool):
    """Balanced weights n / (k * count) per label (scikit-learn's 'balanced'); an absent label weighs 1."""
    import torch

    counts = torch.zeros(num_labels)
    for target in targets:
        if multi_label:
            counts += torch.as_tensor(target, dtype=torch.float)
        else:
            values = torch.as_tensor(target).flatten()
            values = values[values >= 0]
            counts += torch.bincount(values, minlength=num_labels).float()
    total = counts.sum()
    weights = torch.where(counts > 0, total / (num_labels * counts.clamp(min=1)), torch.ones_like(counts))
    return weights


def is_head_parameter(name: str, head_modules: tuple[str, ...]) -> bool:
    """A parameter of the classification head; PEFT's wrapping prefix and modules_to_save copy included."""
    inner = name.removeprefix("base_model.model.")
    return inner.split(".")[0] in head_modules


def classifier_trainer_class():
    from torch import nn
    from transformers import Trainer

    class ClassifierTrainer(Trainer):
        """Trainer with balanced label weights in the loss and the head's own learning rate."""

        def __init__(self, *args, weights=None, multi_label=False, head_modules=(), head_lr=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.label_weights, self.multi_label = weights, multi_label
            self.head_modules, self.head_lr = head_modules, head_lr

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            logits = outputs["logits"]
            weights = None if self.label_weights is None else self.label_weights.to(logits.device,
            logits.dtype)
            if self.multi_label:
                loss = nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype),
                                                                      pos_weight=weights)
            else:
                loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                   weight=weights, ignore_index=-100)
            return (loss, outputs) if return_outputs else loss

        def create_optimizer(self, model=None):
            if self.optimizer is None and self.head_lr:
                named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
                head = [p for n, p in named if is_head_parameter(n, self.head_modules)]
                body = [p for n, p in named if not is_head_parameter(n, self.head_modules)]
                groups = [{"params": head, "lr": self.head_lr}] + ([{"params": body}] if body else [])
                optimizer_cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(self.args, self.model)
                self.optimizer = optimizer_cls(groups, **kwargs)
            return super().create_optimizer()

    return ClassifierTrainer


def build(ctx: TrainContext):
    """A ClassifierTrainer over ``ctx.dataset`` (tokenized, ``labels`` set); the model is ready for its
    strategy
    (studio.training.classifier) and carries ``studio_head_modules`` and ``studio_multi_label``."""
    from transformers import TrainingArguments

    opts: ClassifyOptions = ctx.options
    multi = bool(getattr(ctx.model, "studio_multi_label", False))
    num_labels = int(ctx.model.studio_num_labels)
    weights = label_weights(ctx.dataset["labels"], num_labels, multi) if opts.class_weights else None
    args = TrainingArguments(**without(ctx.common_args, "max_length"), label_names=["labels"])
    return classifier_trainer_class()(
        model=ctx.model, args=args, train_dataset=ctx.dataset, eval_dataset=ctx.eval_dataset,
        data_collator=getattr(ctx.model, "studio_collator", None), callbacks=ctx.callbacks, weights=weights,
        multi_label=multi, head_modules=tuple(getattr(ctx.model, "studio_head_modules", ())),
        head_lr=opts.head_learning_rate)


METHOD = Method(
    name="classify",
    learning_rate=1e-4,  # the BBC news recipe's, with LoRA (set when the method is picked)
    order=90,
    title="Classify (fine-tune an encoder)",
    full_name="Fine-tuned classifier",
    description="Classifier: learns to label a text, a pair of texts or each word from labelled examples.",
    data_kind="classify",
    build=build,
    options=ClassifyOptions,
    advice=(
        "**Fine-tuning an encoder** (BERT's way) gives a model that labels text rather than talks: sort "
        "tickets, "
        "tag sentiment, route e-mails, mark names. What to tune: **the whole network** (best, most memory), "
        "**the head** only (fastest: the encoder runs once per example) or **LoRA** adapters (close to full "
        "at a "
        "fraction of the trainable weights). Judge it by **macro-F1** on held-out data: with imbalanced "
        "labels "
        "accuracy rewards predicting the common label. Keep class weights on; the head needs a larger "
        "learning "
        "rate than the pretrained weights."
    ),
    card_line="A classifier fine-tuned from a pretrained encoder with transformers' Trainer.",
    charts=(Chart("Held-out", {"eval_accuracy": "accuracy", "eval_macro_f1": "macro-F1"}),),
    recipes=("bbc-news-classify.yaml",),
    produces="classifier",
)
