"""Overlap-add over fixed windows for models that cannot stream (non-causal backbones).

Windows of `window` samples advance by `window - overlap`; each is enhanced alone and the
overlaps are cross-faded with complementary raised-cosine ramps (the approach of Asteroid's
`--ola-window`). Memory is bounded by the window; the result differs from enhancing the whole
signal only where the model would have looked further than the window (measured in the tests).
The interface matches StreamingEnhancer, so file enhancement drives either the same way.
"""

from __future__ import annotations

import numpy as np
import torch


class ChunkedEnhancer:
    def __init__(self, model: torch.nn.Module, channels: int = 1, window: int = 16000 * 8, overlap: int = 16000):
        if not 0 < overlap < window:
            raise ValueError("overlap must be positive and shorter than the window")
        self.model, self.window, self.overlap = model, window, overlap
        self.device = next(model.parameters()).device
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        self.fade_in, self.fade_out = ramp.astype(np.float32), (1 - ramp).astype(np.float32)
        self.reset(channels)

    def reset(self, channels: int | None = None) -> None:
        self.channels = channels or self.channels
        self.buffer = np.zeros((self.channels, 0), np.float32)  # input not yet finished
        self.tail: np.ndarray | None = None  # last window's enhanced overlap, waiting for the cross-fade

    @property
    def latency_samples(self) -> int:
        return self.window

    def latency_ms(self, sample_rate: int) -> float:
        return 1000.0 * self.window / sample_rate

    def _enhance(self, segment: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out, _ = self.model(torch.from_numpy(np.ascontiguousarray(segment)).to(self.device))
        return out.cpu().numpy()

    def _emit(self, enhanced: np.ndarray, last: bool) -> np.ndarray:
        if self.tail is not None:
            head = min(self.overlap, enhanced.shape[1])
            enhanced = enhanced.copy()
            enhanced[:, :head] = self.tail[:, :head] * self.fade_out[:head] + enhanced[:, :head] * self.fade_in[:head]
        if last:
            self.tail = None
            return enhanced
        self.tail = enhanced[:, -self.overlap :]
        return enhanced[:, : -self.overlap]

    def push(self, block: np.ndarray | torch.Tensor) -> np.ndarray:
        block = np.asarray(block.cpu() if torch.is_tensor(block) else block, dtype=np.float32)
        self.buffer = np.concatenate([self.buffer, block.reshape(1, -1) if block.ndim == 1 else block], axis=1)
        pieces = []
        while self.buffer.shape[1] >= self.window:
            pieces.append(self._emit(self._enhance(self.buffer[:, : self.window]), last=False))
            self.buffer = self.buffer[:, self.window - self.overlap :]
        return np.concatenate(pieces, axis=1) if pieces else np.zeros((self.channels, 0), np.float32)

    def flush(self) -> np.ndarray:
        if self.tail is not None and self.buffer.shape[1] <= self.overlap:
            out = self.tail[:, : self.buffer.shape[1]]  # nothing new after the last window's overlap
        elif self.buffer.shape[1]:
            out = self._emit(self._enhance(self.buffer), last=True)
        else:
            out = np.zeros((self.channels, 0), np.float32)
        self.reset()
        return out
