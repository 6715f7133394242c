"""Speech-quality metrics from the field's reference implementations (pesq, pystoi).

PESQ wideband runs at 16 kHz; narrowband at 8 or 16 kHz (the pesq package filters 16 kHz input
to the telephone band itself). Other rates are resampled to the nearest of those first.
"""
from __future__ import annotations

import numpy as np

from cmkt.audio import resample

METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr")


def si_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-8) -> float:
    """Scale-invariant SDR in dB (zero-mean signals, optimal scaling of the reference)."""
    ref = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    est = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    target = (np.dot(est, ref) / (np.dot(ref, ref) + eps)) * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str) -> float:
    """PESQ (ITU-T P.862.2 'wb', P.862.1 'nb' MOS-LQO) via the pesq package."""
    from pesq import pesq

    rate = 8000 if (mode == "nb" and sample_rate <= 8000) else 16000
    ref = resample(np.asarray(reference, dtype=np.float32), sample_rate, rate)
    est = resample(np.asarray(estimate, dtype=np.float32), sample_rate, rate)
    return float(pesq(rate, ref.astype(np.float64), est.astype(np.float64), mode))


def stoi_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    from pystoi import stoi

    return float(stoi(np.asarray(reference, dtype=np.float64), np.asarray(estimate, dtype=np.float64), sample_rate, extended=extended))


def score_signals(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, metrics: tuple[str, ...] = METRICS) -> dict[str, float]:
    """All requested metrics for one mono pair, trimmed to the shorter length."""
    n = min(len(reference), len(estimate))
    ref, est = np.asarray(reference[:n]), np.asarray(estimate[:n])
    scores: dict[str, float] = {}
    for name in metrics:
        if name == "pesq_wb":
            scores[name] = pesq_score(ref, est, sample_rate, "wb")
        elif name == "pesq_nb":
            scores[name] = pesq_score(ref, est, sample_rate, "nb")
        elif name == "stoi":
            scores[name] = stoi_score(ref, est, sample_rate)
        elif name == "estoi":
            scores[name] = stoi_score(ref, est, sample_rate, extended=True)
        elif name == "si_sdr":
            scores[name] = si_sdr(ref, est)
        else:
            raise ValueError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
    return scores
