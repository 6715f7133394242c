"""Noise made from scratch for corpora without recorded noise: coloured noise, hum, clicks, babble."""

from __future__ import annotations

import numpy as np

from cmkt.data.mixing import active_rms, pick_one, rms


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f^exponent power spectrum (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    spectrum /= freqs ** (exponent / 2)
    return _normalise(np.fft.irfft(spectrum, n))


def hum(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum (50 or 60 Hz) with decaying harmonics and a little broadband hiss."""
    base = rng.choice([50.0, 60.0])
    t = np.arange(n) / sample_rate
    signal = sum((0.6**k) * np.sin(2 * np.pi * base * (k + 1) * t + rng.uniform(0, 2 * np.pi)) for k in range(8))
    return _normalise(signal + 0.05 * rng.standard_normal(n))


def clicks(n: int, sample_rate: int, rng: np.random.Generator, rate_hz: float = 4.0) -> np.ndarray:
    """Impulsive clicks: short decaying bursts at random times over faint noise."""
    signal = 0.02 * rng.standard_normal(n)
    decay = np.exp(-np.arange(int(0.01 * sample_rate)) / (0.002 * sample_rate))
    for start in rng.integers(0, max(1, n - len(decay)), size=int(rate_hz * n / sample_rate)):
        signal[start : start + len(decay)] += rng.uniform(0.3, 1.0) * rng.standard_normal(len(decay)) * decay
    return _normalise(signal)


def babble(
    utterances: list[np.ndarray], n: int, rng: np.random.Generator, talkers: int = 6, sample_rate: int = 16000
) -> np.ndarray:
    """Several talkers at once: utterances at equal level, looped and summed."""
    signal = np.zeros(n)
    for _ in range(talkers):
        speech = pick_one(utterances, rng)
        speech = speech / max(active_rms(speech, sample_rate), 1e-6)
        track = np.concatenate([speech, np.zeros(int(rng.integers(0, 4000)))])
        tiled = np.tile(track, n // len(track) + 2)
        start = int(rng.integers(0, len(track)))
        signal += tiled[start : start + n]
    return _normalise(signal)


def _normalise(signal: np.ndarray, level: float = 0.05) -> np.ndarray:
    """Scale to a fixed RMS and keep the peak below full scale."""
    signal = signal - signal.mean()
    signal = signal * level / max(rms(signal), 1e-12)
    peak = np.abs(signal).max()
    return (signal * (0.95 / peak) if peak > 0.95 else signal).astype(np.float32)
