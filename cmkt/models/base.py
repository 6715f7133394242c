"""What training, inference and the registry rely on in every backbone."""
from __future__ import annotations

from torch import nn


class Backbone(nn.Module):
    """forward(wave (B, T)) -> (enhanced (B, T), tap (B, frames, tap_dim)); subclasses set
    `tap_dim`, `tap_hop` (samples per tap frame) and `streaming` (causal, with carried state)."""

    streaming = False
    growth_settings: tuple[str, ...] = ()  # config fields `--init` may change: they add layers that start at zero

    @property
    def frame_rate(self) -> float:
        return self.config.sample_rate / self.tap_hop
