"""Band limitation: speech that arrives through a telephone line or a low-pass codec.

A model that has only heard full-band 16 kHz speech reads an empty band above 3.4 kHz as noise
to suppress, or invents a band there; on 8 kHz telephone speech the old default made STOI worse
than its input. Here the target goes through the same band as the mixture, so the model learns to
keep what is there and add nothing: half the time the telephone band (300-3400 Hz at 8 kHz, the
mixture also through G.711 mu-law), half the time a low-pass at a random 3.4-7 kHz."""

from __future__ import annotations

import functools

import numpy as np
import scipy.signal

from cmkt.audio import resample
from cmkt.data.augment.base import Augmentation, Example

PHONE_RATE, PHONE_BAND = 8000, (300.0, 3400.0)
LOWPASS_RANGE_HZ = (3400.0, 7000.0)
TELEPHONE_SHARE = 0.5
LOWPASS_TAPS, LOWPASS_TRANSITION_HZ = 321, 300.0  # 321 Kaiser(8) taps fall 60 dB over ~300 Hz at 16 kHz


def telephone_band(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` at PHONE_RATE, band-passed to PHONE_BAND (two biquads each side, torchaudio)."""
    import torch
    import torchaudio.functional as AF

    narrow = torch.from_numpy(resample(np.asarray(samples, dtype=np.float32)[None, :], rate, PHONE_RATE)[0].copy())
    for _ in range(2):
        narrow = AF.highpass_biquad(narrow, PHONE_RATE, PHONE_BAND[0])
        narrow = AF.lowpass_biquad(narrow, PHONE_RATE, PHONE_BAND[1])
    return narrow.numpy()


def mu_law(samples: np.ndarray) -> np.ndarray:
    """Through an 8-bit mu-law codec (G.711's companding, torchaudio): the line's quantisation noise."""
    import torch
    import torchaudio.functional as AF

    x = torch.from_numpy(np.clip(samples, -1.0, 1.0).astype(np.float32))
    return AF.mu_law_decoding(AF.mu_law_encoding(x, 256), 256).numpy().astype(np.float32)


@functools.lru_cache(maxsize=64)
def _low_pass_taps(rate: int, cutoff_hz: float) -> np.ndarray:
    return scipy.signal.firwin(
        LOWPASS_TAPS, cutoff_hz - LOWPASS_TRANSITION_HZ / 2, fs=rate, window=("kaiser", 8.0)
    ).astype(np.float32)


def low_pass(samples: np.ndarray, rate: int, cutoff_hz: float) -> np.ndarray:
    """A sharp linear-phase low-pass, as a codec's: a Kaiser-window FIR (scipy) whose stopband
    (-60 dB or lower) starts at `cutoff_hz`, applied without delay."""
    taps = _low_pass_taps(rate, float(cutoff_hz))
    return scipy.signal.oaconvolve(np.asarray(samples, dtype=np.float32), taps, mode="same").astype(np.float32)


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    return np.pad(x, (0, max(0, length - len(x))))[:length].astype(np.float32)


class BandLimit(Augmentation):
    """`band_limit` (p 0.2 by default): target and mixture through one telephone or low-pass band."""

    name, stage, default_p = "band_limit", "mixture", 0.2

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        rate, length = example.sample_rate, len(example.target)
        if rng.random() < TELEPHONE_SHARE:
            example.target = _fit_length(
                resample(telephone_band(example.target, rate)[None, :], PHONE_RATE, rate)[0], length
            )
            noisy = mu_law(telephone_band(example.noisy, rate))
            example.noisy = _fit_length(resample(noisy[None, :], PHONE_RATE, rate)[0], length)
            example.drawn["band"] = "telephone"
        else:
            cutoff = float(np.round(rng.uniform(*LOWPASS_RANGE_HZ), -2))
            example.target, example.noisy = (
                low_pass(example.target, rate, cutoff),
                low_pass(example.noisy, rate, cutoff),
            )
            example.drawn["band"] = f"lowpass {cutoff:.0f} Hz"
