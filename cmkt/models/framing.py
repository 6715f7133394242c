"""Causal STFT analysis and overlap-add synthesis that can run a few frames at a time.

torch.stft centres its frames (the first frame needs samples from the future) and torch.istft
cannot carry its overlap-add between calls; both hand complex tensors across the model's
boundary, which ONNX lacks. Here frame k ends at sample (k + 1) * hop (n_fft - hop zeros are
padded on the left), the spectrum crosses module boundaries as real (..., 2) tensors, and the
synthesis is a plain overlap-add, so the same code serves training, offline inference,
streaming and export. The transforms themselves are torch.fft's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CausalStft(nn.Module):
    """Hann-window analysis and exact-reconstruction synthesis with hop dividing n_fft."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        if n_fft % hop:
            raise ValueError(f"hop ({hop}) must divide n_fft ({n_fft}) for streaming overlap-add")
        self.n_fft, self.hop, self.overlap = n_fft, hop, n_fft // hop
        window = torch.hann_window(n_fft)
        envelope = (window**2).reshape(self.overlap, hop).sum(0).repeat(self.overlap)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer("synthesis_window", window / envelope, persistent=False)

    @property
    def delay(self) -> int:
        """Samples of past context each frame carries (the streaming output lag)."""
        return self.n_fft - self.hop

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frame_count(self, length: int) -> int:
        """Frames needed so that every one of `length` samples is covered by all its frames."""
        return (max(length, 1) - 1) // self.hop + self.overlap

    def frames(self, wave: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, n_fft), zero-padded on both sides."""
        length = wave.shape[-1]
        right = (self.frame_count(length) - 1) * self.hop + self.n_fft - self.delay - length
        return F.pad(wave, (self.delay, right)).unfold(-1, self.n_fft, self.hop)

    def analyze(self, frames: torch.Tensor) -> torch.Tensor:
        """(..., n_fft) frames -> (..., bins, 2) real and imaginary parts."""
        return torch.view_as_real(torch.fft.rfft(frames * self.window))

    def synthesize(self, spec: torch.Tensor) -> torch.Tensor:
        """(..., bins, 2) -> (..., n_fft) frames ready to overlap-add."""
        return torch.fft.irfft(torch.view_as_complex(spec.contiguous()), n=self.n_fft) * self.synthesis_window

    def overlap_add_raw(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, N, n_fft) -> (batch, (N + overlap - 1) * hop): every frame summed in place."""
        batch, count, _ = frames.shape
        parts = frames.reshape(batch, count, self.overlap, self.hop)
        total = sum(F.pad(parts[:, :, j], (0, 0, j, self.overlap - 1 - j)) for j in range(self.overlap))
        return total.reshape(batch, -1)

    def overlap_add(self, frames: torch.Tensor, length: int) -> torch.Tensor:
        """Synthesised frames -> (batch, length) aligned with the input of `frames`."""
        return self.overlap_add_raw(frames)[:, self.delay : self.delay + length]
