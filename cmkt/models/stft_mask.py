"""A small causal STFT-domain mask model: conv encoder + GRU + decoder (about 1M parameters).

Causal in frames: the mask of frame t depends on frames <= t only, and every layer can take
its state from the previous call, so the same weights run offline, frame by frame
(`cmkt.inference.streaming`) and exported. Its GRU output is the distillation tap by default
(`tap: encoder` reads the conv encoder below it instead; inference is the same either way).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cmkt.errors import CmktError
from cmkt.models.base import Backbone
from cmkt.models.framing import CausalStft

State = list[torch.Tensor]  # [context of each causal conv..., GRU hidden]: flat, so it exports


@dataclass
class StftMaskConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    hidden: int = 256
    conv_kernel: int = 3
    gru_layers: int = 1
    compress: float = 0.3  # power-law compression of the magnitude fed to the network
    tap: str = "gru"  # what the bridge reads (training only): "gru" output, or the conv "encoder" output below it


class CausalConv1d(nn.Conv1d):
    """Conv1d over time that only looks back; the look-back comes from the previous call."""

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        keep = self.kernel_size[0] - 1
        if context is None:
            context = x.new_zeros(x.shape[0], x.shape[1], keep)
        full = torch.cat([context, x], dim=-1)
        return super().forward(full), full[..., full.shape[-1] - keep :]


class StftMaskNet(Backbone):
    streaming = True

    def __init__(self, config: StftMaskConfig):
        super().__init__()
        if config.tap not in ("gru", "encoder"):
            raise CmktError(f"stft-mask-gru tap {config.tap!r}: choose 'gru' or 'encoder' (--model-config)")
        self.config = config
        self.stft = CausalStft(config.n_fft, config.hop)
        bins = self.stft.bins
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
    def tap_hop(self) -> int:
        """Samples per tap frame."""
        return self.config.hop


    def init_state(self, batch: int) -> State:
        """Zero state: what offline processing assumes before the first frame."""
        device = self.input_norm.weight.device
        convs = [self.encoder[i] for i in range(0, len(self.encoder), 2)]
        contexts = [torch.zeros(batch, conv.in_channels, conv.kernel_size[0] - 1, device=device) for conv in convs]
        return contexts + [torch.zeros(self.config.gru_layers, batch, self.config.hidden, device=device)]

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """wave (batch, samples) -> enhanced (batch, samples), tap (batch, frames, hidden)."""
        spec = self.stft.analyze(self.stft.frames(wave))
        masked, tap, _ = self.process_spectrum(spec)
        return self.stft.overlap_add(self.stft.synthesize(masked), wave.shape[-1]), tap

    def process_spectrum(self, spec: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, torch.Tensor, State]:
        """Mask (batch, frames, bins, 2) spectra; `state` carries the past between calls."""
        magnitude = spec.pow(2).sum(-1).clamp_min(1e-16).pow(self.config.compress / 2)
        x = self.input_norm(magnitude).transpose(1, 2)  # (B, F, N)
        new_state = []
        for index in range(0, len(self.encoder), 2):
            x, context = self.encoder[index](x, state[index // 2] if state else None)
            x = self.encoder[index + 1](x)
            new_state.append(context)
        encoded = x.transpose(1, 2)
        recurrent, hidden = self.gru(encoded, state[-1] if state else None)
        mask = torch.sigmoid(self.decoder(recurrent))
        return spec * mask.unsqueeze(-1), recurrent if self.config.tap == "gru" else encoded, new_state + [hidden]
