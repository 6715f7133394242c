"""Mixing a share of the noisy input back into the enhanced output.

Users trade noise removal for naturalness this way: facebookresearch/denoiser calls it `--dry`,
DeepFilterNet an attenuation limit (`-a DB`: at most DB of noise removed). Both are the same
mix, out = (1 - dry) * enhanced + dry * noisy, so CMKT has one knob with two spellings.
"""

from __future__ import annotations

import numpy as np
import torch

from cmkt.errors import CmktError


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


class DryMixStream:
    """Wraps a streaming or chunked enhancer: holds the input until its enhanced samples come out.

    Both enhancers emit output sample-aligned with their input (their delay is compensated), so
    the i-th output sample is mixed with the i-th input sample."""

    def __init__(self, stream, dry: float):
        self.stream, self.dry = stream, dry
        self.held = np.zeros((stream.channels, 0), np.float32)

    def __getattr__(self, name: str):  # latency_ms, latency_samples, channels, ...
        return getattr(self.stream, name)

    def push(self, block: np.ndarray | torch.Tensor) -> np.ndarray:
        samples = np.asarray(block.cpu() if torch.is_tensor(block) else block, dtype=np.float32)
        self.held = np.concatenate([self.held, samples.reshape(1, -1) if samples.ndim == 1 else samples], axis=1)
        return self._mix(self.stream.push(block))

    def flush(self) -> np.ndarray:
        out = self._mix(self.stream.flush())
        self.held = np.zeros((self.stream.channels, 0), np.float32)
        return out

    def _mix(self, out: np.ndarray) -> np.ndarray:
        n = out.shape[1]
        noisy, self.held = self.held[:, :n], self.held[:, n:]
        return mix_dry(out, noisy, self.dry)
