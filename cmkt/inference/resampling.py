"""Resampling a stream block by block with exactly the result of resampling it whole.

torchaudio's resampler is a windowed-sinc convolution of finite width, so an output sample
depends only on nearby input. Blocks start on the rates' common period (so output indices stay
integers) and carry enough context on both sides; the joined output then equals
`cmkt.audio.resample` of the whole signal up to float rounding, in memory bounded by the block.
"""

from __future__ import annotations

import math

import numpy as np

from cmkt.audio import resample


class BlockResampler:
    """push() blocks of (channels, n) samples, get the output samples that are final so far."""

    def __init__(self, from_rate: int, to_rate: int, channels: int):
        gcd = math.gcd(from_rate, to_rate)
        self.from_rate, self.to_rate = from_rate, to_rate
        self.period_in, self.period_out = from_rate // gcd, to_rate // gcd
        # torchaudio's kernel half-width (lowpass_filter_width=6, rolloff=0.99) plus its stride
        width = math.ceil(6 * self.period_in / (min(self.period_in, self.period_out) * 0.99))
        self.margin = self.period_in * (math.ceil(width / self.period_in) + 2)
        self.buffer = np.zeros((channels, 0), dtype=np.float32)
        self.buffer_start = 0  # absolute input index of buffer[:, 0]
        self.done = 0  # absolute input index (a multiple of period_in) up to which output was given

    @property
    def passthrough(self) -> bool:
        return self.from_rate == self.to_rate

    def push(self, block: np.ndarray, final: bool = False) -> np.ndarray:
        if self.passthrough:
            return block
        self.buffer = np.concatenate([self.buffer, block], axis=1)
        total = self.buffer_start + self.buffer.shape[1]
        end = total if final else ((total - self.margin) // self.period_in) * self.period_in
        if end <= self.done:
            return np.zeros((self.buffer.shape[0], 0), dtype=np.float32)
        low = max(0, self.done - self.margin)
        high = total if final else min(total, end + self.margin)
        out = resample(self.buffer[:, low - self.buffer_start : high - self.buffer_start], self.from_rate, self.to_rate)
        first = (self.done - low) * self.period_out // self.period_in
        last = -(-(end - low) * self.period_out // self.period_in)  # ceil, as torchaudio sizes its output
        out = out[:, first:last]
        self.done = end
        keep_from = max(0, self.done - self.margin)
        self.buffer = self.buffer[:, keep_from - self.buffer_start :]
        self.buffer_start = keep_from
        return out

    def flush(self) -> np.ndarray:
        return self.push(np.zeros((self.buffer.shape[0], 0), dtype=np.float32), final=True)
