"""Mixing a share of the noisy input back into the enhanced output.

Users trade noise removal for naturalness this way: facebookresearch/denoiser calls it `--dry`,
DeepFilterNet an attenuation limit (`-a DB`: at most DB of noise removed). Both are the same
mix, out = (1 - dry) * enhanced + dry * noisy, so CMKT has one knob with two spellings.
"""

from __future__ import annotations

import numpy as np
import torch

from cmkt.errors import CmktError
from cmkt.inference.sample_queue import SampleQueue


def dry_share(dry: float | None = None, atten_lim_db: float | None = None) -> float:
    """The share of input to keep, from `dry` (0..1) or an attenuation limit in dB (> 0)."""
    if dry is not None and atten_lim_db is not None:
        raise CmktError("give --dry or --atten-lim, not both: they set the same mix (dry = 10^(-dB/20))")
    if atten_lim_db is not None:
        if atten_lim_db <= 0:
            raise CmktError(
                f"--atten-lim {atten_lim_db:g}: give the most noise to remove in dB, a positive number such as 12"
            )
        return float(10 ** (-atten_lim_db / 20))
    dry = 0.0 if dry is None else float(dry)
    if not 0.0 <= dry <= 1.0:
        raise CmktError(f"--dry {dry:g}: must lie in [0, 1] (0: enhanced only, 1: the input unchanged)")
    return dry


def mix_dry(enhanced: np.ndarray, noisy: np.ndarray, dry: float) -> np.ndarray:
    """(1 - dry) * enhanced + dry * noisy, sample-aligned arrays of one shape."""
    if dry == 0.0:
        return enhanced
    return ((1.0 - dry) * enhanced + dry * noisy).astype(np.float32)


class PairedStream:
    """Wraps a streaming or chunked enhancer: each push returns (enhanced, input) sample-aligned.

    Both enhancers emit output sample-aligned with their input (their delay is compensated), so
    the input is held until its enhanced samples come out; whatever combines the two (the dry mix,
    the full-band join) then works on aligned pairs."""

    def __init__(self, stream):
        self.stream = stream
        self.held = SampleQueue(stream.channels)

    def __getattr__(self, name: str):  # latency_ms, latency_samples, channels, ...
        return getattr(self.stream, name)

    def push(self, block: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        samples = np.asarray(block.cpu() if torch.is_tensor(block) else block, dtype=np.float32)
        self.held.put(samples.reshape(1, -1) if samples.ndim == 1 else samples)
        out = self.stream.push(block)
        return out, self.held.take(out.shape[1])

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        out = self.stream.flush()
        noisy = self.held.take(out.shape[1])
        self.held = SampleQueue(self.stream.channels)
        return out, noisy


class DryMixStream(PairedStream):
    """A PairedStream that returns the mix: the i-th output sample with the i-th input sample."""

    def __init__(self, stream, dry: float):
        super().__init__(stream)
        self.dry = dry

    def push(self, block: np.ndarray | torch.Tensor) -> np.ndarray:
        return mix_dry(*super().push(block), self.dry)

    def flush(self) -> np.ndarray:
        return mix_dry(*super().flush(), self.dry)
