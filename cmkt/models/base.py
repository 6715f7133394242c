"""What training, inference and the registry rely on in every backbone: the contract, in one place."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn


class Backbone(nn.Module):
    """forward(wave (B, T)) -> (enhanced (B, T), tap (B, frames, tap_dim)).

    A subclass names the config fields that give the tap's width and hop (`tap_dim_field`,
    `tap_hop_field`); `config` is its dataclass of settings (with `sample_rate`)."""

    config: Any
    tap_dim_field: ClassVar[str]
    tap_hop_field: ClassVar[str]
    streaming: ClassVar[bool] = False  # True only for StreamingBackbone
    growth_settings: ClassVar[
        tuple[str, ...]
    ] = ()  # config fields `--init` may change: they add layers that start at zero
    growth_free: ClassVar[tuple[str, ...]] = ()  # prefixes of added weights that may start non-zero (see subclasses)

    @property
    def tap_dim(self) -> int:
        """Width of the distillation tap."""
        return int(getattr(self.config, self.tap_dim_field))

    @property
    def tap_hop(self) -> int:
        """Samples per tap frame."""
        return int(getattr(self.config, self.tap_hop_field))

    @property
    def frame_rate(self) -> float:
        return self.config.sample_rate / self.tap_hop


class StreamingBackbone(Backbone):
    """A causal backbone that runs frame by frame with carried state (cmkt/inference/streaming.py):
    it has an `stft` (cmkt/models/framing.py), `init_state(batch)` and `process_spectrum(spec, state)`
    -> (masked spectrum, tap, new state). `post_filter_beta` > 0 applies the post-filter of
    cmkt/models/post_filter.py to that spectrum: an inference setting, never trained with."""

    streaming: ClassVar[bool] = True
    stft: nn.Module
    post_filter_beta: float = 0.0

    def init_state(self, batch: int) -> Any:
        raise NotImplementedError

    def process_spectrum(self, spec: torch.Tensor, state: Any) -> tuple[torch.Tensor, torch.Tensor, Any]:
        raise NotImplementedError
