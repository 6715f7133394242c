"""Frame-in/frame-out enhancement for causal models, with state carried between calls.

Push blocks of any size; each call returns the samples that are final so far. The output lags
the input by `stft.delay` samples (n_fft - hop), and a sample may wait up to one hop for its
frame to fill, so the algorithmic latency is n_fft samples (32 ms for the default model).
After `flush()` the concatenated output equals the offline result for the same input.
`stream_step` is the whole computation on whole hops; the exported ONNX/TorchScript graph is it.
"""

from __future__ import annotations

import numpy as np
import torch

from cmkt.models.base import StreamingBackbone


def supports_streaming(model: torch.nn.Module) -> bool:
    """Whether `model` keeps the streaming contract (models/base.py: StreamingBackbone)."""
    return isinstance(model, StreamingBackbone)


def stream_step(
    model: torch.nn.Module,
    hops: torch.Tensor,
    input_tail: torch.Tensor,
    output_tail: torch.Tensor,
    state: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Enhance (batch, k*hop) new samples; returns k*hop output samples delayed by stft.delay and the new tails and
    state."""
    stft = model.stft
    padded = torch.cat([input_tail, hops], dim=-1)
    spec = stft.analyze(padded.unfold(-1, stft.n_fft, stft.hop))
    masked, _, state = model.process_spectrum(spec, state)
    count = hops.shape[-1]
    summed = stft.overlap_add_raw(stft.synthesize(masked)) + torch.nn.functional.pad(output_tail, (0, count))
    return summed[:, :count], padded[:, count:], summed[:, count:], state


class StreamingEnhancer:
    """Carries a causal model's state, its input tail and its overlap-add tail across blocks."""

    def __init__(self, model: torch.nn.Module, channels: int = 1):
        if not supports_streaming(model):
            raise ValueError(f"{type(model).__name__} is not causal and cannot stream")
        self.model, self.stft = model, model.stft
        self.device = next(model.parameters()).device
        self.reset(channels)

    def reset(self, channels: int | None = None) -> None:
        self.channels = channels or self.channels
        zeros = torch.zeros(self.channels, self.stft.delay, device=self.device)
        self.input_tail, self.output_tail = zeros, zeros.clone()
        self.pending = zeros[:, :0]
        self.state = self.model.init_state(self.channels)
        self.to_skip = self.stft.delay  # the first outputs belong to the left padding
        self.received = self.emitted = 0

    @property
    def latency_samples(self) -> int:
        return self.stft.n_fft

    def latency_ms(self, sample_rate: int) -> float:
        return 1000.0 * self.latency_samples / sample_rate

    def push(self, block: np.ndarray | torch.Tensor) -> np.ndarray:
        """Feed (channels, n) or (n,) samples; returns the (channels, m) samples now final."""
        x = torch.as_tensor(block, dtype=torch.float32, device=self.device)
        x = x.reshape(1, -1) if x.ndim == 1 else x
        self.received += x.shape[-1]
        return self._run(torch.cat([self.pending, x], dim=-1))

    def flush(self) -> np.ndarray:
        """Emit everything still held (as if zeros followed) and reset for a new stream."""
        missing = self.received - self.emitted
        zeros = torch.zeros(
            self.channels, (-self.pending.shape[-1]) % self.stft.hop + self.stft.delay, device=self.device
        )
        out = self._run(torch.cat([self.pending, zeros], dim=-1))[:, :missing]
        self.reset()
        return out

    def _run(self, x: torch.Tensor) -> np.ndarray:
        usable = (x.shape[-1] // self.stft.hop) * self.stft.hop
        self.pending = x[:, usable:]
        if usable == 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        with torch.no_grad():
            ready, self.input_tail, self.output_tail, self.state = stream_step(
                self.model, x[:, :usable], self.input_tail, self.output_tail, self.state
            )
        skip = min(self.to_skip, usable)
        self.to_skip -= skip
        ready = ready[:, skip:].cpu().numpy()
        self.emitted += ready.shape[-1]
        return ready
