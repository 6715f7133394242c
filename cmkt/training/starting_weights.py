"""`cmkt train --init`: start from a trained model's weights instead of a random draw.

Fine-tuning the shipped model on a user's own noise needs far fewer steps than training anew,
which is what makes it feasible on a CPU. The distillation bridge always starts fresh: an
inference checkpoint carries none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch

from cmkt.errors import CmktError
from cmkt.registry import ARCHITECTURES, read_checkpoint, resolve_model
from cmkt.training.config import DEFAULT_ARCHITECTURE, TrainConfig


@dataclass(frozen=True)
class StartingWeights:
    """What `--init` names: its backbone, that backbone's settings (the run's own added on top), its weights."""

    arch: str
    model: dict
    state_dict: dict


def read_starting_weights(config: TrainConfig) -> StartingWeights | None:
    """The weights `--init` names, or None for a random start; refuses a backbone the run's flags contradict."""
    if not config.init:
        return None
    payload = read_checkpoint(resolve_model(config.init))
    growable = ARCHITECTURES[payload["arch"]].model.growth_settings if payload["arch"] in ARCHITECTURES else ()
    conflicting = {k: v for k, v in config.model.items() if payload["config"].get(k, v) != v and k not in growable}
    if (config.arch not in (DEFAULT_ARCHITECTURE, payload["arch"])) or conflicting:
        raise CmktError(
            f"--init {config.init}: it is a {payload['arch']} with {payload['config']}, not --arch {config.arch} "
            f"--model-config {json.dumps(config.model)}; drop --arch/--model-config when fine-tuning"
            + (f" (only {', '.join(growable)} may be added)" if growable else "")
        )
    return StartingWeights(payload["arch"], {**payload["config"], **config.model}, payload["state_dict"])


def load_starting_weights(model: torch.nn.Module, weights: dict) -> None:
    """Load `--init` weights; parameters a growth setting added (absent from them) keep their zero start,
    so the grown model begins by enhancing exactly as the one it grew from."""
    missing, unexpected = model.load_state_dict(weights, strict=False)
    current = model.state_dict()
    free = tuple(getattr(model, "growth_free", ()))  # added layers whose only way out starts at zero
    not_zero = [k for k in missing if current[k].any() and not k.startswith(free)]
    if unexpected or not_zero:
        raise CmktError(
            f"--init: its weights do not fit this model (missing {not_zero[:3]}, unexpected {unexpected[:3]}); "
            "drop --model-config when fine-tuning"
        )
