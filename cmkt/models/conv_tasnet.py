"""A time-domain backbone: torchaudio's Conv-TasNet with one output source (non-causal).

The tap is the mask network's summed skip connections (what feeds its output layer), captured
with a forward hook and average-pooled from the encoder's 1 ms frames to `tap_hop` samples, so
that the bridge sees about as many frames as with the STFT models.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cmkt.models.base import Backbone


@dataclass
class ConvTasNetConfig:
    sample_rate: int = 16000
    enc_kernel_size: int = 16
    enc_num_feats: int = 256
    msk_num_feats: int = 128
    msk_num_hidden_feats: int = 256
    msk_num_layers: int = 6
    msk_num_stacks: int = 2
    tap_hop: int = 128


class ConvTasNetSE(Backbone):
    tap_dim_field, tap_hop_field = "msk_num_feats", "tap_hop"

    def __init__(self, config: ConvTasNetConfig):
        super().__init__()
        from torchaudio.models import ConvTasNet

        if config.tap_hop % (config.enc_kernel_size // 2):
            raise ValueError("tap_hop must be a multiple of the encoder stride (enc_kernel_size / 2)")
        self.config = config
        self.net = ConvTasNet(
            num_sources=1,
            enc_kernel_size=config.enc_kernel_size,
            enc_num_feats=config.enc_num_feats,
            msk_num_feats=config.msk_num_feats,
            msk_num_hidden_feats=config.msk_num_hidden_feats,
            msk_num_layers=config.msk_num_layers,
            msk_num_stacks=config.msk_num_stacks,
            msk_activate="sigmoid",
        )
        self._tap: torch.Tensor | None = None
        self.net.mask_generator.output_prelu.register_forward_hook(self._keep_tap)

    def _keep_tap(self, module, inputs, output) -> None:
        self._tap = inputs[0]

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        enhanced = self.net(wave[:, None])[:, 0]
        pool = self.config.tap_hop // (self.config.enc_kernel_size // 2)
        tap = nn.functional.avg_pool1d(self._tap, pool, pool, ceil_mode=True).transpose(1, 2)
        self._tap = None
        return enhanced, tap
