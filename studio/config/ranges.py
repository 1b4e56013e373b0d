"""The numeric options' ranges, checked before anything heavy starts (part of ``studio.config.validate``).

Apart from config.py, which would pass 400 lines with them; it reads the config's fields by name only.
"""

from __future__ import annotations

from studio.errors import ConfigError


def check_ranges(cfg) -> None:
    """One sentence for the first number outside what training accepts, with a value to try."""
    t, lora = cfg.training, cfg.lora
    if t.learning_rate <= 0:
        raise ConfigError(f"Learning rate must be above 0 (got {t.learning_rate}); try 2e-4 for SFT, 5e-6 "
                          "for DPO.")
    if lora.enabled and lora.r < 1:
        raise ConfigError(f"LoRA rank r must be at least 1 (got {lora.r}); 16 is a good start.")
    if lora.enabled and lora.alpha <= 0:
        raise ConfigError(f"LoRA alpha must be above 0 (got {lora.alpha}); twice the rank is common.")
    if not 0 <= lora.dropout < 1:
        raise ConfigError(f"LoRA dropout must be at least 0 and below 1 (got {lora.dropout}); try 0.05.")
    if t.batch_size < 1:
        raise ConfigError(f"Batch size must be at least 1 (got {t.batch_size}).")
    if t.gradient_accumulation < 1:
        raise ConfigError(f"Gradient accumulation must be at least 1 (got {t.gradient_accumulation}).")
    if t.max_length < 16:
        raise ConfigError(f"Max length must be at least 16 tokens (got {t.max_length}); 512 is typical.")
    if not t.num_epochs and not t.max_steps:
        raise ConfigError("Set either training.num_epochs or training.max_steps, so the run knows when to "
                          "stop.")
    if t.max_steps is not None and t.max_steps < 1:
        raise ConfigError(f"Max steps must be at least 1 when set (got {t.max_steps}).")
    if t.num_epochs is not None and t.num_epochs < 0:
        raise ConfigError(f"Epochs cannot be negative (got {t.num_epochs}).")
    if t.warmup_steps < 0:
        raise ConfigError(f"Warm-up steps cannot be negative (got {t.warmup_steps}).")
    if t.save_steps < 1 or t.logging_steps < 1:
        raise ConfigError("Save and logging intervals must be at least 1 step.")
    if cfg.distributed.processes < 0:
        raise ConfigError(f"Processes must be 0 (automatic) or more (got {cfg.distributed.processes}).")
    check_nodes(cfg.distributed)


def check_nodes(d) -> None:
    if d.nodes < 1 or not 0 <= d.node_rank < d.nodes:
        raise ConfigError(f"distributed.node_rank must be from 0 to nodes - 1 (got rank {d.node_rank} of "
                          f"{d.nodes} nodes).")
    host, _, port = d.main.rpartition(":")
    if d.nodes > 1 and not (host and port.isdigit()):
        raise ConfigError("Several nodes need the main node's address: set distributed.main (--main) to "
                          "HOST:PORT, "
                          f"e.g. 10.0.0.1:29500 (got '{d.main}').")
