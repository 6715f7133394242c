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
SUB_BANDS = 4  # the model's band in 2 kHz parts when telling speech from noise
STARTUP_FRAMES = 5  # noise-only frames heard before the band's own level may overrule the model


@dataclass(frozen=True)
class HighBandSettings:
    """How the band above the model's Nyquist frequency is denoised."""

    floor_db: float = -30.0  # the most any bin of the band is turned down
    frame_ms: float = 10.0  # hop; frames are twice as long
    noise_time_s: float = 0.2  # time constant of the noise estimate in noise-only frames
    absent_db: float = -18.0  # model output / input energy at or below this: the frame is noise only
    present_db: float = -10.0  # at or above this: speech, the noise estimate holds
    smoothing: float = 0.98  # decision-directed weight of the previous frame's clean estimate
    oversubtract: float = 2.0  # the noise estimate is scaled by this in the gain (more than 1: more removed)
    noise_like_db: float = 10.0  # band power over its noise estimate at or below this: the band agrees it is noise
    speech_like_db: float = 20.0  # at or above this: it holds something else, whatever the model says

    def __post_init__(self) -> None:
        if not self.floor_db <= 0:
            raise CmktError(f"high-band floor {self.floor_db:g} dB: must be at most 0")
        if not self.absent_db < self.present_db:
            raise CmktError("high-band settings: absent_db must lie below present_db")
        if not self.noise_like_db < self.speech_like_db:
            raise CmktError("high-band settings: noise_like_db must lie below speech_like_db")
        if not self.oversubtract > 0:
            raise CmktError(f"high-band oversubtract {self.oversubtract:g}: must be positive")
        if not 0 <= self.smoothing < 1:
            raise CmktError(f"high-band smoothing {self.smoothing:g}: must lie in [0, 1)")

    def hop(self, rate: int) -> int:
        return max(1, round(rate * self.frame_ms / 1000))

    def absence(self, enhanced_power: np.ndarray, noisy_power: np.ndarray) -> np.ndarray:
        """How surely each frame is noise only (0: speech .. 1: noise), from the model's output/input
        energy in each of its sub-bands (last axis): speech anywhere in the model's band (a vowel's
        harmonics low, a fricative high) counts, while noise-only frames are turned down in all of them."""
        ratio_db = 10 * np.log10((enhanced_power + TINY) / (noisy_power + TINY)).max(axis=-1)
        return np.clip((self.present_db - ratio_db) / (self.present_db - self.absent_db), 0.0, 1.0)


class HighBandDenoiser:
    """process() whole hops of the band with the model's output and input beside them; returns the
    band denoised, one hop late."""

    def __init__(self, rate: int, model_rate: int, channels: int, settings: HighBandSettings):
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

    def process(self, band: np.ndarray, enhanced: np.ndarray, noisy: np.ndarray) -> np.ndarray:
        """`band`: whole hops of the high band; `enhanced`/`noisy`: the model's output and input
        (resampled to this rate, aligned with `band`): they say where speech is, and their ratio is
        the gain below 8 kHz."""
        channels, frames = band.shape[0], band.shape[1] // self.hop
        if frames == 0:
            return np.zeros((channels, 0), np.float32)
        stacked = np.concatenate([band, enhanced, noisy]).reshape(3 * channels, frames, self.hop)
        previous = np.concatenate([self.last_hop[:, None], stacked[:, :-1]], axis=1)
        all_spectra = np.fft.rfft(np.concatenate([previous, stacked], axis=-1) * self.window, axis=-1)
        spectra, model_out, model_in = np.split(all_spectra, 3)
        below = slice(0, self.model_bins)
        absence = self.settings.absence(*(self._sub_bands(np.abs(s[..., below]) ** 2) for s in (model_out, model_in)))
        gains = self._gains(np.abs(spectra) ** 2, absence)
        model_gain = np.abs(model_out[..., below]) / (np.abs(model_in[..., below]) + 1e-9)
        gains[..., below] = np.minimum(model_gain, 1.0)
        frames_out = np.fft.irfft(spectra * gains, n=2 * self.hop, axis=-1) * self.window
        tails = np.concatenate([self.tail[:, None], frames_out[:, :-1, self.hop :]], axis=1)
        self.last_hop, self.tail = stacked[:, -1].copy(), frames_out[:, -1, self.hop :].copy()
        return (frames_out[:, :, : self.hop] + tails).reshape(channels, frames * self.hop).astype(np.float32)

    def _sub_bands(self, power: np.ndarray) -> np.ndarray:
        """Power in SUB_BANDS equal parts of the model's band (last axis)."""
        edges = np.linspace(0, power.shape[-1], SUB_BANDS + 1).astype(int)
        return np.add.reduceat(power, edges[:-1], axis=-1)

    def _gains(self, power: np.ndarray, absence: np.ndarray) -> np.ndarray:
        """Wiener gains per frame and bin, times a frame gate that turns noise-only frames down to the floor.

        A frame counts as noise only as far as the model says so and the band itself agrees: a band
        well above its noise estimate (a fricative the model turned down) is neither gated nor learnt
        as noise. Until it has heard as many noise-only frames as its time constant spans, the
        estimate is their running mean, so a short recording is denoised from its first pause on; it
        never exceeds the band's own (smoothed) power, so a frame misjudged as noise is forgotten at
        the next quiet moment."""
        s, above = self.settings, slice(self.model_bins, None)
        gains = np.empty_like(power)
        for index in range(power.shape[1]):
            frame = power[:, index]
            band_db = 10 * np.log10(
                (frame[:, above].sum(-1, keepdims=True) + TINY) / (self.noise[:, above].sum(-1, keepdims=True) + TINY)
            )
            unlike_noise = np.clip((band_db - s.noise_like_db) / (s.speech_like_db - s.noise_like_db), 0.0, 1.0)
            settled = self.heard >= STARTUP_FRAMES  # before that the estimate is too young to judge by
            weight = absence[:, index, None] * np.where(settled, 1.0 - unlike_noise, 1.0)
            self.heard += weight
            step = weight * np.maximum(1.0 - self.keep, weight / np.maximum(self.heard, 1e-9))
            self.noise = self.noise + step * (frame - self.noise)
            self.level = 0.5 * self.level + 0.5 * frame.sum(axis=-1, keepdims=True)
            total = self.noise.sum(axis=-1, keepdims=True)
            self.noise *= np.minimum(1.0, self.level / np.maximum(total, TINY))
            noise = s.oversubtract * self.noise + TINY
            prior = s.smoothing * self.clean / noise + (1.0 - s.smoothing) * np.maximum(frame / noise - 1.0, 0.0)
            gain = np.maximum(prior / (1.0 + prior), self.floor)
            self.clean = gain**2 * frame
            gains[:, index] = gain * self.floor**weight
        return gains
