"""Enhancement as a stream at the input's own sample rate.

Blocks at any rate go down to the model's rate, through the model's stream (frame by frame or
overlapped windows), and back up through the band join (cmkt.inference.band_split), each stage
carrying its own state. Memory is bounded by the block, and the joined output equals what the
whole-array path gives for the same input: files, long recordings in blocks, real-time streams
and `enhance_array` all run this code.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from cmkt.inference.band_split import FullBandJoin, LowBandJoin
from cmkt.inference.dry_mix import PairedStream
from cmkt.inference.resampling import BlockResampler


class RateStream:
    """push() (channels, n) blocks at `rate`, get the enhanced samples at `out_rate` that are final so far.

    `make_join()` gives a fresh band join (cmkt.inference.band_split.band_join) for every stream."""

    def __init__(
        self,
        model_stream,
        model_rate: int,
        rate: int,
        out_rate: int,
        make_join: Callable[[], LowBandJoin | FullBandJoin],
    ):
        self.model_rate, self.rate, self.out_rate, self.make_join = model_rate, rate, out_rate, make_join
        self.channels = model_stream.channels
        self.model = PairedStream(model_stream)
        self.reset()

    def reset(self) -> None:
        self.join = self.make_join()
        self.to_model = BlockResampler(self.rate, self.model_rate, self.channels)
        self.after = BlockResampler(self.join.rate, self.out_rate, self.channels)
        self.received = self.emitted = 0  # samples in (at rate) and out (at out_rate)

    def push(self, block: np.ndarray | torch.Tensor) -> np.ndarray:
        samples = np.asarray(block.cpu() if torch.is_tensor(block) else block, dtype=np.float32)
        samples = samples.reshape(1, -1) if samples.ndim == 1 else samples
        self.received += samples.shape[1]
        enhanced, noisy = self.model.push(self.to_model.push(samples))
        return self._emit(self.after.push(self.join.push(samples, enhanced, noisy)))

    def flush(self) -> np.ndarray:
        """Emit everything still held (as if silence followed) and reset for a new stream."""
        last = self.to_model.flush()
        pairs = [self.model.push(last), self.model.flush()]
        enhanced, noisy = (np.concatenate(side, axis=1) for side in zip(*pairs))
        empty = np.zeros((self.channels, 0), np.float32)
        joined = np.concatenate([self.join.push(empty, enhanced, noisy), self.join.flush()], axis=1)
        out = self._emit(np.concatenate([self.after.push(joined), self.after.flush()], axis=1), final=True)
        self.reset()
        return out

    def _emit(self, out: np.ndarray, final: bool = False) -> np.ndarray:
        """Keep the output as long as resampling the whole input gives (the resamplers round up)."""
        total = -(-self.received * self.out_rate // self.rate)
        out = out[:, : max(0, total - self.emitted)]
        if final and self.emitted + out.shape[1] < total:
            out = np.pad(out, ((0, 0), (0, total - self.emitted - out.shape[1])))
        self.emitted += out.shape[1]
        return out
