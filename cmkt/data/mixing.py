"""Mixing speech and noise at a target SNR measured on active speech, not on silence."""
from __future__ import annotations

import numpy as np

PEAK_LIMIT = 0.99


def rms(signal: np.ndarray) -> float:
    """Root mean square, accumulated in double precision."""
    return float(np.sqrt(np.mean(np.asarray(signal, dtype=np.float64) ** 2)))


def active_rms(signal: np.ndarray, sample_rate: int, floor_db: float = 40.0, frame_s: float = 0.02) -> float:
    """RMS over frames within `floor_db` of the loudest frame (pauses do not dilute the level)."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    frame = max(1, int(frame_s * sample_rate))
    n = len(x) // frame
    if n == 0:
        return rms(x)
    energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
    peak = energy.max()
    if peak <= 0:
        return 0.0
    active = energy[energy >= peak * 10 ** (-floor_db / 10)]
    return float(np.sqrt(active.mean()))


def pick_one(items, rng: np.random.Generator):
    """One item drawn uniformly: the single way every mixing choice (noise, SNR, room) is made,
    so a seed replays the same draws."""
    return items[int(rng.integers(0, len(items)))]


def fit_noise(noise: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A noise segment of `length` samples from a random offset, looping short noise."""
    noise = np.asarray(noise, dtype=np.float32).reshape(-1)
    if len(noise) >= length:
        start = int(rng.integers(0, len(noise) - length + 1))
        return noise[start : start + length]
    reps = int(np.ceil(length / len(noise))) + 1
    start = int(rng.integers(0, len(noise)))
    return np.tile(noise, reps)[start : start + length]


def mix_at_snr(
    clean: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int, rng: np.random.Generator,
    *, heard: np.ndarray | None = None, gain_db: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (target, noisy) at `snr_db`; both are scaled down together if the mix would clip.

    `heard` is the speech as the microphone gets it (e.g. reverberant; default: `clean`): the SNR
    is measured on it and it goes into the mix, while the target stays `clean`, at the same scale.
    `gain_db` scales the whole mixture (level randomisation) before the clipping guard.
    """
    clean = np.asarray(clean, dtype=np.float32).reshape(-1)
    heard = clean if heard is None else np.asarray(heard, dtype=np.float32).reshape(-1)
    segment = fit_noise(noise, len(heard), rng)
    speech_level = active_rms(heard, sample_rate)
    noise_level = rms(segment)
    if speech_level <= 0 or noise_level <= 0:
        raise ValueError("cannot mix silent speech or silent noise at an SNR")
    gain = speech_level / (noise_level * 10 ** (snr_db / 20))
    level = 10 ** (gain_db / 20)
    noisy = (heard + gain * segment) * level
    clean = clean * level
    peak = float(np.abs(noisy).max())
    if peak > PEAK_LIMIT:
        scale = PEAK_LIMIT / peak
        clean, noisy = clean * scale, noisy * scale
    return clean.astype(np.float32), noisy.astype(np.float32)


def reverberate(clean: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Speech convolved with a room impulse response (torchaudio's fftconvolve), aligned at the
    RIR's direct path and cut to the speech's length, so the target stays time-aligned."""
    import torch
    import torchaudio.functional as AF

    rir = np.asarray(rir, dtype=np.float32).reshape(-1)
    peak = int(np.argmax(np.abs(rir)))
    rir = rir / (np.abs(rir[peak]) + 1e-12)
    wet = AF.fftconvolve(torch.from_numpy(np.asarray(clean, dtype=np.float32)), torch.from_numpy(rir)).numpy()
    return wet[peak : peak + len(clean)]
