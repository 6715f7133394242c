"""Full-band output from a 16 kHz model: the input's band above 8 kHz is kept, denoised, not cut.

The model sees the input resampled to its rate. Back at the input's rate the signal is split by
a crossover that sums to unity by construction: the low band is the input through the same
down/up resampling the model's path takes, the high band is everything else (input minus low
band), so low + high is the input to float rounding, phase included. The output is

    up(enhanced) + gain * high

where `gain` is a slowly varying, per-channel gain made from the model's own output. The model
says when speech is absent (its output energy falls well below its input's); in those frames a
noise estimate of the high band follows the high band's power, and the gain is the spectral-
subtraction gain sqrt(1 - noise / power), held above a floor. Measured on the shipped model, the
model's energy ratio in its top bins (5-8 kHz) could not serve directly as the gain: it is
20-40 dB down on clean harmonic signals, where the high band must pass unchanged.

`band="low"` is the earlier behaviour: the model's output resampled up, nothing above 8 kHz.
Both joins are push/flush streams at the input's rate, so whole arrays, files in blocks and
real-time streams run the same code and give the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmkt.errors import CmktError
from cmkt.inference.dry_mix import mix_dry
from cmkt.inference.resampling import BlockResampler
from cmkt.inference.sample_queue import SampleQueue

BANDS = ("full", "low")
_TINY = 1e-12  # power floor in the ratios (digital silence)


def check_band(band: str) -> str:
    if band not in BANDS:
        raise CmktError(f"--band {band}: choose full (keep the band above 8 kHz, denoised) or low (cut it)")
    return band


@dataclass(frozen=True)
class HighBandSettings:
    """How the band above the model's Nyquist frequency is denoised (see the module docstring)."""

    floor_db: float = -20.0  # the most the high band is turned down
    frame_ms: float = 10.0  # gain update interval; the gain ramps linearly across each frame
    noise_time_s: float = 0.2  # time constant of the noise estimate in noise-only frames
    absent_db: float = -18.0  # model output / input energy at or below this: the frame is noise only
    present_db: float = -10.0  # at or above this: speech, the noise estimate holds

    def __post_init__(self) -> None:
        if not self.floor_db <= 0:
            raise CmktError(f"high-band floor {self.floor_db:g} dB: must be at most 0")
        if not self.absent_db < self.present_db:
            raise CmktError("high-band settings: absent_db must lie below present_db")


class LowBandJoin:
    """The model's output (dry share mixed in) resampled to `rate`: no band above the model's."""

    def __init__(self, model_rate: int, rate: int, channels: int, dry: float):
        self.rate, self.dry = rate, dry
        self.up = BlockResampler(model_rate, rate, channels)

    def push(self, samples: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        """`samples`: new input at `rate` (unused here); enhanced/noisy: aligned pairs at the model's rate."""
        return self.up.push(mix_dry(enhanced, noisy, self.dry))

    def flush(self) -> np.ndarray:
        return self.up.flush()


class FullBandJoin:
    """Recombines the model's low band with the input's denoised high band at the input's rate."""

    def __init__(self, model_rate: int, rate: int, channels: int, dry: float, settings: HighBandSettings):
        self.rate, self.channels, self.dry, self.settings = rate, channels, dry, settings
        self.up = BlockResampler(model_rate, rate, 2 * channels)  # enhanced and noisy, stacked
        self.hop = max(1, round(rate * settings.frame_ms / 1000))
        self.keep = float(np.exp(-settings.frame_ms / 1000 / settings.noise_time_s))
        self.reset()

    def reset(self) -> None:
        self.inputs = SampleQueue(self.channels)  # input waiting for its low band to come back
        self.pending = SampleQueue(3 * self.channels)  # aligned input, up(enhanced), up(noisy): not a frame yet
        self.noise = np.zeros(self.channels)  # high-band noise power estimate
        self.gain = np.ones(self.channels)  # the last frame's gain, where the next ramp starts

    def push(self, samples: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        self.inputs.put(samples)
        return self._frames(self.up.push(np.concatenate([enhanced, noisy])), final=False)

    def flush(self) -> np.ndarray:
        out = self._frames(self.up.flush(), final=True)
        self.reset()
        return out

    def _frames(self, low: np.ndarray, final: bool) -> np.ndarray:
        self.pending.put(np.concatenate([self.inputs.take(low.shape[1]), low]))
        held = len(self.pending)
        count = -(-held // self.hop) if final else held // self.hop
        block = self.pending.take(count * self.hop)  # a final partial frame is zero-padded
        c = self.channels
        out = self._join(block[:c], block[c : 2 * c], block[2 * c :])
        return out[:, :held] if final else out

    def _join(self, samples: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        high = samples - noisy  # the crossover: noisy is the input's low band, so low + high = input
        gains = self._gains(high, enhanced, noisy)
        wet_share = 1.0 - self.dry
        return (mix_dry(enhanced, noisy, self.dry) + (self.dry + wet_share * gains) * high).astype(np.float32)

    def _gains(self, high: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        """Per-sample gains: one value per frame, reached by a linear ramp from the previous one."""
        frames = high.shape[1] // self.hop
        if frames == 0:
            return np.ones_like(high)
        shape = (self.channels, frames, self.hop)
        power = np.mean(high.reshape(shape) ** 2, axis=-1)
        ratio = (np.mean(enhanced.reshape(shape) ** 2, axis=-1) + _TINY) / (
            np.mean(noisy.reshape(shape) ** 2, axis=-1) + _TINY
        )
        s = self.settings
        absence = np.clip((s.present_db - 10 * np.log10(ratio)) / (s.present_db - s.absent_db), 0.0, 1.0)
        floor = 10 ** (s.floor_db / 20)
        per_frame = np.empty((self.channels, frames + 1))
        per_frame[:, 0] = self.gain
        for index in range(frames):
            keep = 1.0 - (1.0 - self.keep) * absence[:, index]
            self.noise = keep * self.noise + (1.0 - keep) * power[:, index]
            clean_share = 1.0 - self.noise / (power[:, index] + _TINY)
            per_frame[:, index + 1] = np.sqrt(np.clip(clean_share, floor**2, 1.0))
        self.gain = per_frame[:, -1].copy()
        ramp = np.arange(1, self.hop + 1) / self.hop
        steps = per_frame[:, :-1, None] + (per_frame[:, 1:, None] - per_frame[:, :-1, None]) * ramp
        return steps.reshape(self.channels, frames * self.hop)


def band_join(
    model_rate: int,
    rate: int,
    out_rate: int,
    channels: int,
    dry: float,
    band: str = "full",
    settings: HighBandSettings | None = None,
) -> LowBandJoin | FullBandJoin:
    """The join for input at `rate` heading for `out_rate`: full band when both lie above the model's
    rate (its output then comes at `rate`: resample it to out_rate after), else the low band at out_rate."""
    if check_band(band) == "full" and min(rate, out_rate) > model_rate:
        return FullBandJoin(model_rate, rate, channels, dry, settings or HighBandSettings())
    return LowBandJoin(model_rate, out_rate, channels, dry)
