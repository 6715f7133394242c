"""A loaded SE model and the two ways to run it: on an array in memory, or on a file in blocks.

The file path never holds the whole recording: soundfile blocks go through a RateStream
(resampled to the model's rate, enhanced by the streaming model, joined back with the input's
high band at its own rate), each stage carrying its own state, so memory is bounded by the
block size and the result equals enhancing the whole array.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from cmkt.audio import audio_writer, open_audio, output_subtype, read_blocks, resample
from cmkt.util.devices import resolve_device
from cmkt.errors import CmktError
from cmkt.inference.band_split import FullBandJoin, LowBandJoin, band_join, check_band
from cmkt.inference.high_band import HighBandSettings
from cmkt.inference.chunked import ChunkedEnhancer
from cmkt.inference.dry_mix import DryMixStream, dry_share
from cmkt.inference.rate_stream import RateStream
from cmkt.inference.streaming import StreamingEnhancer, supports_streaming
from cmkt.models.post_filter import resolve_post_filter
from cmkt.registry import load_model, resolve_model


DEFAULT_WINDOW_S = 8.0  # window of a non-causal model's overlap-added stream


@dataclass
class Enhancer:
    """A model in eval mode, its sample rate, checkpoint metadata, device and dry share."""

    model: torch.nn.Module
    sample_rate: int
    meta: dict
    device: torch.device
    dry: float = 0.0  # share of the input mixed back into the output (cmkt.inference.dry_mix)
    source: str = ""  # the checkpoint file it was loaded from
    fingerprint: str = ""  # sha256 of that file (16 hex digits): which weights made an output
    band: str = "full"  # above the model's rate: "full" keeps the band above its Nyquist, denoised; "low" cuts it
    high_band: HighBandSettings = field(default_factory=HighBandSettings)  # how that band is denoised
    post_filter: float = 0.0  # strength (beta) of the residual-noise post-filter (cmkt.models.post_filter); 0: off

    @property
    def identity(self) -> str:
        """What an output records as the model that made it: the file's name and its weights' hash."""
        return f"{Path(self.source).name} sha256:{self.fingerprint}"

    def __call__(self, samples: np.ndarray | torch.Tensor, sample_rate: int) -> np.ndarray | torch.Tensor:
        return enhance_array(self, samples, sample_rate)

    @property
    def causal(self) -> bool:
        """Whether the model runs frame by frame (streaming); the others run in overlapping windows."""
        return supports_streaming(self.model)

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency of `stream()` with its default window: one STFT frame for a causal
        model, the whole window for the others."""
        samples = self.model.stft.n_fft if self.causal else int(DEFAULT_WINDOW_S * self.sample_rate)
        return 1000.0 * samples / self.sample_rate

    @property
    def high_band_latency_ms(self) -> float:
        """What a full-band join adds to `latency_ms` for inputs above the model's rate: its denoiser
        works one hop late and waits for a hop to fill (cmkt.inference.high_band)."""
        return 2 * self.high_band.frame_ms if self.band == "full" else 0.0

    def stream(
        self,
        channels: int = 1,
        window_s: float = DEFAULT_WINDOW_S,
        overlap_s: float = 1.0,
        sample_rate: int | None = None,
        out_rate: int | None = None,
    ) -> StreamingEnhancer | ChunkedEnhancer | DryMixStream | RateStream:
        """Blocks in, enhanced blocks out: frame by frame for causal models, overlap-added windows
        (`window_s`, `overlap_s`) for the others. Without `sample_rate` the blocks are at the model's
        rate; with it, at that rate (and out at `out_rate`, default the same), the band above the
        model's kept as `self.band` says."""
        if self.causal:
            stream = StreamingEnhancer(self.model, channels)
        else:
            stream = ChunkedEnhancer(
                self.model, channels, int(window_s * self.sample_rate), int(overlap_s * self.sample_rate)
            )
        if sample_rate is not None:
            out_rate = out_rate or sample_rate
            return RateStream(
                stream, self.sample_rate, sample_rate, out_rate, lambda: self.join(sample_rate, out_rate, channels)
            )
        return DryMixStream(stream, self.dry) if self.dry else stream

    def join(self, rate: int, out_rate: int, channels: int) -> LowBandJoin | FullBandJoin:
        """The band join that brings this model's output back to input at `rate`, heading for `out_rate`."""
        return band_join(self.sample_rate, rate, out_rate, channels, self.dry, self.band, self.high_band)


def load_enhancer(
    model: str | Path,
    device: str = "cpu",
    threads: int = 0,
    dry: float = 0.0,
    band: str = "full",
    high_band: HighBandSettings | None = None,
    post_filter: float | None = None,
) -> Enhancer:
    """Load a checkpoint by path or installed name onto `device` (threads: 0 keeps torch's default);
    `dry` mixes that share of the input back into every output (see cmkt.inference.dry_mix.dry_share);
    `band` and `high_band` say what becomes of an input's band above the model's (cmkt.inference.band_split);
    `post_filter` > 0 pushes residual noise down further (cmkt.models.post_filter; causal STFT models); None
    takes the checkpoint's own setting, 0 turns it off."""
    torch.set_flush_denormal(True)  # denormal activations slow CPU inference for no audible gain
    if threads:
        torch.set_num_threads(threads)
    target = resolve_device(device)
    path = resolve_model(str(model))
    net, meta = load_model(path)
    post_filter = resolve_post_filter(meta, post_filter)
    if post_filter:
        if not supports_streaming(net):
            raise CmktError(
                f"{path.name}: --post-filter works on the gains of a causal STFT model (stft-mask-gru), "
                f"not on {meta.get('arch', type(net).__name__)}; leave it out for this model"
            )
        net.post_filter_beta = post_filter
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return Enhancer(
        net.to(target),
        int(meta["sample_rate"]),
        meta,
        target,
        dry_share(dry),
        str(path),
        fingerprint,
        check_band(band),
        high_band or HighBandSettings(),
        post_filter,
    )


MAX_CHANNELS = 64


def enhance_array(
    enhancer: Enhancer, samples: np.ndarray | torch.Tensor, sample_rate: int
) -> np.ndarray | torch.Tensor:
    """Enhance (n,), (channels, n) or (n, channels) audio at any rate; returns the same shape, rate,
    type and dtype. A 2-D array's channel axis is the shorter one (at most MAX_CHANNELS long), so
    what soundfile.read returns works as it is; integer PCM is scaled to [-1, 1] and back."""
    as_tensor = torch.is_tensor(samples)
    raw = samples.detach().cpu().numpy() if as_tensor else np.asarray(samples)
    if raw.ndim not in (1, 2) or raw.size == 0:
        raise CmktError(f"audio array of shape {tuple(raw.shape)}: give (n,), (channels, n) or (n, channels) samples")
    channels_last = raw.ndim == 2 and raw.shape[0] > raw.shape[1]
    if raw.ndim == 2 and min(raw.shape) > MAX_CHANNELS:
        raise CmktError(
            f"audio array of shape {tuple(raw.shape)}: neither axis looks like channels (at most {MAX_CHANNELS}); "
            "pass (channels, n) or (n, channels)"
        )
    scale = float(-np.iinfo(raw.dtype).min) if np.issubdtype(raw.dtype, np.integer) else 1.0
    audio = raw.astype(np.float32) / scale
    if not np.isfinite(audio).all():
        raise CmktError(
            "audio array holds NaN or infinite samples; replace them (e.g. numpy.nan_to_num) before enhancing"
        )
    audio = audio.T if channels_last else audio
    out = enhance_clips(enhancer, [(audio.reshape(1, -1) if audio.ndim == 1 else audio, sample_rate)])[0]
    out = out.reshape(audio.shape)
    out = np.ascontiguousarray(out.T if channels_last else out)
    if scale != 1.0:
        info = np.iinfo(raw.dtype)
        out = np.clip(np.round(out * scale), info.min, info.max).astype(raw.dtype)
    return torch.from_numpy(out) if as_tensor else out


def enhance_clips(enhancer: Enhancer, clips: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Enhance several (channels, n) clips, each at its own rate, in one batch.

    Every channel becomes a batch row, zero-padded on the right to the longest; a causal model's
    output does not depend on what follows, so each clip comes out as if enhanced alone. Each is
    joined back at its own rate by the same band join that streams use.
    """
    joins = [enhancer.join(rate, rate, len(samples)) for samples, rate in clips]
    rows = [resample(samples, rate, enhancer.sample_rate) for samples, rate in clips]
    longest = max(row.shape[1] for row in rows)
    batch = np.concatenate([np.pad(row, ((0, 0), (0, longest - row.shape[1]))) for row in rows])
    with torch.inference_mode():
        enhanced = (
            enhancer.model(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(enhancer.device))[0]
            .cpu()
            .numpy()
        )
    outputs, first = [], 0
    for (samples, rate), row, join in zip(clips, rows, joins):
        mine = enhanced[first : first + row.shape[0], : row.shape[1]]
        joined = np.concatenate([join.push(samples.astype(np.float32), mine, row), join.flush()], axis=1)
        outputs.append(fit_length(joined, samples.shape[1]))
        first += row.shape[0]
    return outputs


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (channels, n) samples to `length` (resampling can round by a sample)."""
    if samples.shape[1] >= length:
        return samples[:, :length]
    return np.pad(samples, ((0, 0), (0, length - samples.shape[1])))


@dataclass
class FileResult:
    duration_s: float
    compute_s: float


def enhance_file(
    enhancer: Enhancer,
    source: str | Path,
    target: str | Path,
    block_seconds: float = 10.0,
    out_rate: int | None = None,
    out_subtype: str | None = None,
    on_block: Callable[[float], None] | None = None,
    comment: str | None = None,
) -> FileResult:
    """Enhance one file block by block into `target`, atomically; rate and subtype are the input's
    unless given (the container follows target's suffix). `on_block` hears the seconds of input
    each block enhanced (a progress bar moves within a long file); `comment` goes into the file's tags."""
    compute_s = 0.0
    with open_audio(source) as handle:
        rate, channels = handle.samplerate, handle.channels
        out_rate = out_rate or rate
        frames = -(-handle.frames * out_rate // rate)  # the length resampling the whole file gives
        stream = enhancer.stream(channels, sample_rate=rate, out_rate=out_rate)
        with audio_writer(
            target, out_rate, channels, output_subtype(target, handle.subtype, out_subtype), comment
        ) as write:
            written = 0

            def emit(block: np.ndarray) -> None:
                nonlocal written
                block = block[:, : frames - written]
                if block.shape[1]:
                    write(block)
                    written += block.shape[1]

            for block in read_blocks(handle, max(1, int(block_seconds * rate))):
                start = time.perf_counter()
                out = stream.push(block)
                compute_s += time.perf_counter() - start
                emit(out)
                if on_block:
                    on_block(block.shape[1] / rate)
            start = time.perf_counter()
            out = stream.flush()
            compute_s += time.perf_counter() - start
            emit(out)
            emit(np.zeros((channels, frames - written), dtype=np.float32))
    return FileResult(handle.frames / rate, compute_s)
