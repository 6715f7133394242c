"""An STFT mask model with a Conformer encoder (torchaudio.models.Conformer; non-causal).

Same analysis/synthesis as the default model (cmkt.models.framing), a linear projection of the
compressed magnitudes into the Conformer, its output as the tap, and a sigmoid mask from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cmkt.models.base import Backbone
from cmkt.models.framing import CausalStft


@dataclass
class ConformerMaskConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    dim: int = 144
    heads: int = 4
    ffn_dim: int = 288
    layers: int = 4
    conv_kernel: int = 15
    compress: float = 0.3


class ConformerMaskNet(Backbone):
    tap_dim_field, tap_hop_field = "dim", "hop"

    def __init__(self, config: ConformerMaskConfig):
        super().__init__()
        from torchaudio.models import Conformer

        self.config = config
        self.stft = CausalStft(config.n_fft, config.hop)
        self.input = nn.Sequential(nn.LayerNorm(self.stft.bins), nn.Linear(self.stft.bins, config.dim))
        self.conformer = Conformer(config.dim, config.heads, config.ffn_dim, config.layers, config.conv_kernel)
        self.mask = nn.Linear(config.dim, self.stft.bins)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.stft.analyze(self.stft.frames(wave))  # (B, N, F, 2)
        magnitude = spec.pow(2).sum(-1).clamp_min(1e-16).pow(self.config.compress / 2)
        x = self.input(magnitude)
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        tap, _ = self.conformer(x, lengths)
        mask = torch.sigmoid(self.mask(tap))
        return self.stft.overlap_add(self.stft.synthesize(spec * mask.unsqueeze(-1)), wave.shape[-1]), tap
