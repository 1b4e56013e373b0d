"""The data a run trains on: ``for_training`` (the one call training makes), ``load_training_data``
(read -> normalise -> refuse the wrong kind) and the row selection.

Small files are read and normalised whole; a large local file stays in Arrow
(studio.data.read.arrow, studio.data.prepare.arrow_normalise) and, when the run needs only ``take``
examples, only about that many of its rows are read at all.
"""

from __future__ import annotations

from studio.data.layouts.normalise import check_method, normalise, read_for
from studio.data.prepare.prepared import PreparedData

__all__ = ["cache_key_for", "for_training", "load_training_data", "select_examples"]


def cache_key_for(data_cfg, *, tokenizer, template: str, take: int | None, seed: int, settings: dict,
                  evaluate: bool = False) -> str:
    """Everything a run's trainer-ready rows depend on: the source's identity, the data settings, the
    row selection, the chat template and tokenizer, the caller's ``settings`` (max length, method, its
    options) and, with ``evaluate``, where the eval set comes from (a held-out share or a file)."""
    from studio.data.prepare.token_cache import cache_key, source_identity, tokenizer_identity

    d = data_cfg
    held_out = {"eval_fraction": d.eval_fraction,
                "eval_source": source_identity(d.eval_source, "train", None) if d.eval_source else None}
    return cache_key({
        "source": source_identity(d.source, d.split or "train", d.subset), "subset": d.subset,
        "column_map": d.column_map, "max_rows": d.max_rows, "shuffle_seed": d.shuffle_seed, "take": take,
        "seed": seed, "template": template, "tokenizer": tokenizer_identity(tokenizer), **settings,
        **({"evaluate": held_out} if evaluate else {})})


def for_training(data_cfg, asked, *, tokenizer, template: str, take: int | None = None, seed: int = 0,
                 settings: dict | None = None, cache: bool = True, say=None,
                 evaluate: bool = False) -> PreparedData:
    """The data one run trains on, and evaluates on, asked for once.

    ``asked``: what the method asks of the data (its kind; a wrong kind is refused in one sentence
    naming it). ``take``: the examples the run consumes (None: every one). ``settings``: what else the
    trainer's rows depend on (max length, method, options), for the cache key. ``evaluate``: the run
    evaluates while training, so ``eval_dataset`` holds its eval set (``held_out``). When an earlier run
    prepared the same data with the same settings, its trainer-ready rows (eval set included) come from
    the token cache and nothing is read (``prepared`` is True); otherwise the examples are read,
    normalised and reduced to ``take``, and ``remember(trainer_rows, method, eval_rows)`` stores what the
    trainer makes of them. ``cache=False``: neither (the caller's trainer cannot take prepared rows).
    """
    from studio.data.prepare.token_cache import load, load_eval

    say = say or (lambda _line: None)
    key = cache_key_for(data_cfg, tokenizer=tokenizer, template=template, take=take, seed=seed,
                        settings=settings or {}, evaluate=evaluate)
    hit = load(key) if cache else None
    if hit is not None:
        data = PreparedData.from_cache(key, *hit, load_eval(key) if evaluate else None)
        say(f"Using the tokenized data cached for {data_cfg.source} ({len(data.dataset):,} examples, "
            f"cache entry {key}).")
        return data
    say(f"Loading data from {data_cfg.source}...")
    data = load_training_data(data_cfg, asked, take=take, seed=seed)
    data.dataset = select_examples(data.dataset, take, seed)
    if take is not None:
        say(f"The run consumes {take:,} examples: {len(data.dataset):,} are prepared.")
    if evaluate:
        held_out(data, data_cfg, asked, seed, say)
    data.cache_key, data.source = key if cache else "", data_cfg.source
    return data


def held_out(data: PreparedData, data_cfg, asked, seed: int, say) -> None:
    """Sets ``data.eval_dataset``: ``data.eval_fraction`` of the examples (seeded), taken out of the training
    ones so training never sees them, else the ``data.eval_source`` file, read once, as training asks."""
    from dataclasses import replace

    from studio.errors import ConfigError

    if data_cfg.eval_fraction:
        if len(data.dataset) < 4:
            raise ConfigError(f"Only {len(data.dataset)} training examples: too few to hold out "
                              f"data.eval_fraction; give data.eval_source instead.")
        split = data.dataset.train_test_split(test_size=data_cfg.eval_fraction, seed=seed)
        data.dataset, data.eval_dataset = split["train"], split["test"]
        say(f"Held out {len(split['test']):,} examples ({data_cfg.eval_fraction:.0%}) to evaluate on.")
        return
    eval_cfg = replace(data_cfg, source=data_cfg.eval_source, split="train", subset=None, max_rows=None)
    data.eval_dataset = load_training_data(eval_cfg, asked).dataset
    say(f"Evaluating on {len(data.eval_dataset):,} examples from {data_cfg.eval_source}.")


def load_training_data(data_cfg, method: str, *, take: int | None = None, seed: int = 0) -> PreparedData:
    """Read ``data_cfg.source`` and return it in TRL's form for ``method`` (refused in one sentence when
    the method cannot use the data's kind).

    ``take``: the examples the run will consume (max_steps x batch ...). A large local file then has
    only about that many rows read and normalised, drawn at random (``seed``) from the whole file; a
    small file is normalised whole and the caller selects from it (``select_examples``).
    """
    import datasets

    from studio.data.read.arrow import TAKE_BYTES, is_large

    large = is_large(data_cfg.source) or (take is not None and is_large(data_cfg.source, TAKE_BYTES))
    if large and (data_cfg.split or "train") == "train":
        prepared = _load_large(data_cfg, method, take, seed)
        if prepared is not None:
            return prepared
    raw = read_for(data_cfg.source, split=data_cfg.split or "train", subset=data_cfg.subset,
                   max_rows=data_cfg.max_rows, shuffle_seed=data_cfg.shuffle_seed)
    norm = normalise(raw, method, data_cfg.column_map or None, shuffle_seed=data_cfg.shuffle_seed,
                     max_rows=data_cfg.max_rows)
    check_method(norm, method)
    dataset = datasets.Dataset.from_list(norm.examples)
    return PreparedData(dataset, norm.kind, norm.format.name, norm.rows, norm.errors,
                        norm.format.description, norm.notes, norm.valid_rows, norm.remarks)


def _load_large(data_cfg, method: str, take: int | None, seed: int) -> PreparedData | None:
    """A large file through Arrow; None when its layout needs every row at once (grouped layouts)."""
    from pathlib import Path

    from studio.data.prepare.arrow_normalise import normalise_arrow
    from studio.data.read.arrow import count_rows, file_kind, open_arrow, pick_rows, take_parquet
    from studio.data.read.arrow import take as take_rows

    path = Path(data_cfg.source).expanduser()
    order_seed = data_cfg.shuffle_seed if data_cfg.shuffle_seed is not None else seed
    total = count_rows(path) if file_kind(path) == "parquet" else None
    if total is not None and take is not None and take < min(total, data_cfg.max_rows or total):
        # A few rows of a Parquet file: read from their row groups, no conversion of the whole file.
        pool = min(total, data_cfg.max_rows or total)
        raw = take_parquet(path, pick_rows(pool, min(pool, take + take // 4 + 16), order_seed))
        return _from_rows(raw, data_cfg, method, take, total)
    ds = open_arrow(path)
    pool = min(len(ds), data_cfg.max_rows) if data_cfg.max_rows else len(ds)
    if take is None or take >= pool:
        if data_cfg.max_rows and pool < len(ds):
            ds = ds.select(pick_rows(len(ds), pool, order_seed) if data_cfg.shuffle_seed is not None
                           else range(pool))
        return normalise_arrow(ds, path.name, method, data_cfg.column_map or None)
    # A quarter more rows than needed, so rows left out as broken still leave enough examples.
    indices = pick_rows(pool, min(pool, take + take // 4 + 16), order_seed)
    return _from_rows(take_rows(ds, indices, path.name), data_cfg, method, take, len(ds))


def _from_rows(raw, data_cfg, method: str, take: int, total: int) -> PreparedData | None:
    """The first ``take`` examples from rows drawn at random; None when rows cannot be sampled one by one."""
    import datasets

    norm = normalise(raw, method, data_cfg.column_map or None)
    if norm.format.row is None:
        return None  # several rows make one example (grouped layouts)
    check_method(norm, method)
    examples = norm.examples[:take]
    notes = [(f"Only {len(examples):,} of the file's {total:,} rows are prepared, drawn at random: the run's "
              "max_steps consume no more."), *norm.notes]
    return PreparedData(datasets.Dataset.from_list(examples), norm.kind, norm.format.name, total, norm.errors,
                        norm.format.description, notes, norm.valid_rows, norm.remarks)


def select_examples(dataset, take: int | None, seed: int):
    """The ``take`` examples a max_steps run consumes, drawn at random as the trainer's sampler would."""
    if take is None or len(dataset) <= take:
        return dataset
    return dataset.shuffle(seed=seed).select(range(take)).flatten_indices()
