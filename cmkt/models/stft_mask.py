"""A small causal STFT-domain mask model: conv encoder + GRU + decoder (about 1M parameters).

Causal in frames: the mask of frame t depends on frames <= t only, so the same network can
later run frame by frame. Its GRU output is the distillation tap.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class StftMaskConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    hidden: int = 256
    conv_kernel: int = 3
    gru_layers: int = 1
    compress: float = 0.3  # power-law compression of the magnitude fed to the network


class CausalConv1d(nn.Conv1d):
    """Conv1d over time that only looks back (left padding)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.kernel_size[0] - 1, 0)))


class StftMaskNet(nn.Module):
    def __init__(self, config: StftMaskConfig):
        super().__init__()
        self.config = config
        bins = config.n_fft // 2 + 1
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        self.input_norm = nn.LayerNorm(bins)
        self.encoder = nn.Sequential(
            CausalConv1d(bins, config.hidden, config.conv_kernel), nn.PReLU(),
            CausalConv1d(config.hidden, config.hidden, config.conv_kernel), nn.PReLU(),
        )
        self.gru = nn.GRU(config.hidden, config.hidden, num_layers=config.gru_layers, batch_first=True)
        self.decoder = nn.Sequential(nn.Linear(config.hidden, config.hidden), nn.PReLU(), nn.Linear(config.hidden, bins))

    @property
    def tap_dim(self) -> int:
        return self.config.hidden

    @property
    def frame_rate(self) -> float:
        return self.config.sample_rate / self.config.hop

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        return torch.stft(wave, self.config.n_fft, self.config.hop, window=self.window, return_complex=True)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wave (batch, samples) -> enhanced (batch, samples), tap (batch, frames, hidden)."""
        spec = self.stft(wave)  # (B, F, N)
        features = self.input_norm(spec.abs().clamp_min(1e-8).pow(self.config.compress).transpose(1, 2))
        encoded = self.encoder(features.transpose(1, 2)).transpose(1, 2)  # (B, N, H)
        tap, _ = self.gru(encoded)
        mask = torch.sigmoid(self.decoder(tap)).transpose(1, 2)  # (B, F, N)
        enhanced = torch.istft(spec * mask, self.config.n_fft, self.config.hop, window=self.window, length=wave.shape[-1])
        return enhanced, tap
