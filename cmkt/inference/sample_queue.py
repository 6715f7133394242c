"""A first-in, first-out queue of multichannel samples.

Streams that delay their output (the model, the resamplers) emit samples that belong to input
given earlier; a queue holds that input until its partner arrives, so the two can be combined
sample-aligned without keeping the whole recording.
"""

from __future__ import annotations

import numpy as np


class SampleQueue:
    """put() (channels, n) blocks; take(n) returns the oldest n samples, zero-padded past the end."""

    def __init__(self, channels: int):
        self.samples = np.zeros((channels, 0), np.float32)

    def __len__(self) -> int:
        return self.samples.shape[1]

    def put(self, block: np.ndarray) -> None:
        self.samples = np.concatenate([self.samples, block.astype(np.float32, copy=False)], axis=1)

    def take(self, count: int) -> np.ndarray:
        out, self.samples = self.samples[:, :count], self.samples[:, count:]
        if out.shape[1] < count:  # asked past what was put: the signal is over, zeros follow
            out = np.pad(out, ((0, 0), (0, count - out.shape[1])))
        return out
