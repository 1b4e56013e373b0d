"""What a classify recipe will cost before it runs, for each strategy (full, head, lora): trainable
parameters,
memory and time on this machine (studio.models.classifier_plan says how each is computed), from the recipe's
model and data: the examples it will train and evaluate on, and their mean length in the model's tokens."""

from __future__ import annotations

from dataclasses import asdict

from studio.config import RunConfig

LENGTH_SAMPLE = 200  # rows tokenized to measure the mean length (the rest are assumed alike)


def data_facts(cfg: RunConfig) -> dict:
    """{rows, eval_rows, labels, texts}: what training will read (max_rows and the held-out fraction
    applied)."""
    from studio.data.layouts.labelled import read_labelled

    d = cfg.data
    data = read_labelled(d.source, split=d.split, subset=d.subset, text_column=d.text_column,
                         label_column=d.label_column)
    rows = min(len(data), d.max_rows) if d.max_rows else len(data)
    if (d.eval_source or "").strip():
        eval_rows = len(read_labelled(d.eval_source, text_column=d.text_column, label_column=d.label_column,
                                      labels=data.labels))
    else:
        eval_rows = max(1, round(rows * d.eval_fraction)) if d.eval_fraction else 0
    return {"rows": rows - (0 if (d.eval_source or "").strip() else eval_rows), "eval_rows": eval_rows,
            "labels": len(data.labels), "texts": data.inputs[:LENGTH_SAMPLE], "task": data.task}


def mean_tokens(name: str, texts: list, max_length: int, trust_remote_code: bool) -> tuple[float, bool]:
    """(mean length in the model's tokens, at most max_length; whether it was measured) of ``texts``."""
    from studio.models.encoders import resolve_encoder
    from studio.models.loading import load_tokenizer

    resolved = resolve_encoder(name)
    if not resolved.is_local or not texts:
        return float(max_length), False
    tokenizer = load_tokenizer(resolved, trust_remote_code)
    lengths = []
    for item in texts:
        pair = item if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(x, str) for x in
        item)\
            else None
        if pair:
            ids = tokenizer(pair[0], pair[1], truncation=True, max_length=max_length)["input_ids"]
        else:
            words = item if isinstance(item, list) else None
            ids = tokenizer(words if words else str(item), is_split_into_words=bool(words), truncation=True,
                            max_length=max_length)["input_ids"]
        lengths.append(len(ids))
    return sum(lengths) / len(lengths), True


def estimate_recipe(cfg: RunConfig) -> dict:
    """{facts, tokens, measured_length, epochs, flops_per_second, plans: [StrategyPlan as dicts]}."""
    from studio.models.catalog import detect_machine, machine_precision
    from studio.models.classifier_plan import matmul_flops_per_second, model_counts, plan_strategies

    facts = data_facts(cfg)
    t = cfg.training
    tokens, measured = mean_tokens(cfg.model.name, facts.pop("texts"), t.max_length,
                                   cfg.model.trust_remote_code)
    counts, shape = model_counts(cfg.model.name, facts["labels"], cfg.lora.r)
    batch = t.batch_size * t.gradient_accumulation
    epochs = t.num_epochs or 1.0
    if t.max_steps:  # max_steps overrides epochs: that many batches
        epochs = t.max_steps * batch / max(facts["rows"], 1)
    machine = detect_machine()
    plans = plan_strategies(counts, shape, machine=machine, precision=machine_precision(machine),
                            batch=t.batch_size, max_length=t.max_length, r=cfg.lora.r, rows=facts["rows"],
                            eval_rows=facts["eval_rows"], epochs=epochs, tokens=tokens)
    return {"facts": facts, "tokens": round(tokens, 1), "measured_length": measured,
            "epochs": round(epochs, 2),
            "flops_per_second": matmul_flops_per_second(), "plans": [asdict(p) for p in plans]}
