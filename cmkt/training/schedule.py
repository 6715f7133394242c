"""The learning-rate schedule: a function of the step alone, so `--resume` needs no scheduler state."""

from __future__ import annotations

import math

from cmkt.training.config import TrainConfig


def learning_rate(config: TrainConfig, step: int) -> float:
    """The step's learning rate: constant, or cosine decay from lr to lr/10 over config.steps."""
    if config.lr_decay == "none":  # TrainConfig allows only none and cosine
        return config.lr
    progress = min(1.0, step / max(1, config.steps))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
