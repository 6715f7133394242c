"""Denoising the band above the model's Nyquist frequency, which the 16 kHz model never sees.

A short-time spectral denoiser of the classic kind (Ephraim and Malah's decision-directed Wiener
gain), steered by the model: the model says which frames hold no speech (its output energy falls
far below its input's), and only there does the per-bin noise estimate follow the band's power.
So the model's speech/noise decision, learned on speech, carries into a band it was not trained
on, while the gain itself needs no full-band training data.

Frames are 2 * hop samples with a square-root Hann window at 50% overlap, so analysis and
synthesis windows together sum to one: with every gain at 1 the band comes back unchanged,
one hop late (the join delays the low band to match).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmkt.errors import CmktError

TINY = 1e-12  # power floor in the ratios (digital silence)


@dataclass(frozen=True)
class HighBandSettings:
    """How the band above the model's Nyquist frequency is denoised."""

    floor_db: float = -20.0  # the most any bin of the band is turned down
    frame_ms: float = 10.0  # hop; frames are twice as long
    noise_time_s: float = 0.2  # time constant of the noise estimate in noise-only frames
    absent_db: float = -18.0  # model output / input energy at or below this: the frame is noise only
    present_db: float = -10.0  # at or above this: speech, the noise estimate holds
    smoothing: float = 0.98  # decision-directed weight of the previous frame's clean estimate

    def __post_init__(self) -> None:
        if not self.floor_db <= 0:
            raise CmktError(f"high-band floor {self.floor_db:g} dB: must be at most 0")
        if not self.absent_db < self.present_db:
            raise CmktError("high-band settings: absent_db must lie below present_db")
        if not 0 <= self.smoothing < 1:
            raise CmktError(f"high-band smoothing {self.smoothing:g}: must lie in [0, 1)")

    def hop(self, rate: int) -> int:
        return max(1, round(rate * self.frame_ms / 1000))

    def absence(self, enhanced_power: np.ndarray, noisy_power: np.ndarray) -> np.ndarray:
        """How surely each frame is noise only (0: speech .. 1: noise), from the model's output/input energy."""
        ratio_db = 10 * np.log10((enhanced_power + TINY) / (noisy_power + TINY))
        return np.clip((self.present_db - ratio_db) / (self.present_db - self.absent_db), 0.0, 1.0)


class HighBandDenoiser:
    """process() whole hops of the band with each hop's noise absence; returns them denoised, one hop late."""

    def __init__(self, rate: int, channels: int, settings: HighBandSettings, model_rate: int = 16000):
        self.settings, self.hop = settings, settings.hop(rate)
        # bins below the model's Nyquist frequency, where the model's own gain applies
        self.model_bins = int(np.sum(np.fft.rfftfreq(2 * self.hop, 1 / rate) < model_rate / 2))
        self.window = np.sqrt(0.5 - 0.5 * np.cos(np.pi * np.arange(2 * self.hop) / self.hop))
        self.keep = float(np.exp(-settings.frame_ms / 1000 / settings.noise_time_s))
        self.floor = 10 ** (settings.floor_db / 20)
        bins = self.hop + 1
        self.last_hop = np.zeros((3 * channels, self.hop))  # the first half of the next frame (band, model out, in)
        self.tail = np.zeros((channels, self.hop))  # the overlap-add tail of the last frame
        self.noise = np.zeros((channels, bins))  # noise power per bin
        self.heard = np.zeros((channels, 1))  # how many noise-only frames the estimate has seen
        self.level = np.zeros((channels, 1))  # the band's power, smoothed over about two frames
        self.clean = np.zeros((channels, bins))  # last frame's clean power estimate (decision-directed)

    def process(self, band: np.ndarray, absence: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        """`band`: whole hops of the high band; `absence`: per hop; `enhanced`/`noisy`: the model's output
        and input (resampled to this rate, aligned with `band`), whose ratio is the gain below 8 kHz."""
        channels, frames = band.shape[0], band.shape[1] // self.hop
        if frames == 0:
            return np.zeros((channels, 0), np.float32)
        stacked = np.concatenate([band, enhanced, noisy]).reshape(3 * channels, frames, self.hop)
        previous = np.concatenate([self.last_hop[:, None], stacked[:, :-1]], axis=1)
        all_spectra = np.fft.rfft(np.concatenate([previous, stacked], axis=-1) * self.window, axis=-1)
        spectra, model_out, model_in = np.split(all_spectra, 3)
        gains = self._gains(np.abs(spectra) ** 2, absence)
        below = slice(0, self.model_bins)
        model_gain = np.abs(model_out[..., below]) / (np.abs(model_in[..., below]) + 1e-9)
        gains[..., below] = np.minimum(model_gain, 1.0)
        frames_out = np.fft.irfft(spectra * gains, n=2 * self.hop, axis=-1) * self.window
        tails = np.concatenate([self.tail[:, None], frames_out[:, :-1, self.hop :]], axis=1)
        self.last_hop, self.tail = stacked[:, -1].copy(), frames_out[:, -1, self.hop :].copy()
        return (frames_out[:, :, : self.hop] + tails).reshape(channels, frames * self.hop).astype(np.float32)

    def _gains(self, power: np.ndarray, absence: np.ndarray) -> np.ndarray:
        """Wiener gains per frame and bin: the noise estimate moves only as far as the frame is noise only.

        Until it has heard as many noise-only frames as its time constant spans, the estimate is their
        running mean, so a short recording is denoised from its first pause on. It never exceeds the
        band's own (smoothed) power: a frame misjudged as noise is forgotten at the next quiet moment."""
        smoothing = self.settings.smoothing
        gains = np.empty_like(power)
        for index in range(power.shape[1]):
            frame, weight = power[:, index], absence[:, index, None]
            self.heard += weight
            step = weight * np.maximum(1.0 - self.keep, weight / np.maximum(self.heard, 1e-9))
            self.noise = self.noise + step * (frame - self.noise)
            self.level = 0.5 * self.level + 0.5 * frame.sum(axis=-1, keepdims=True)
            total = self.noise.sum(axis=-1, keepdims=True)
            self.noise *= np.minimum(1.0, self.level / np.maximum(total, TINY))
            noise = self.noise + TINY
            prior = smoothing * self.clean / noise + (1.0 - smoothing) * np.maximum(frame / noise - 1.0, 0.0)
            gain = np.maximum(prior / (1.0 + prior), self.floor)
            self.clean = gain**2 * frame
            gains[:, index] = gain
        return gains
