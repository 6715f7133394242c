"""Speech-quality metrics from the field's reference implementations (pesq, pystoi, DNSMOS).

PESQ wideband runs at 16 kHz; narrowband at 8 kHz for 8 kHz input and at 16 kHz otherwise (the
pesq package filters 16 kHz input to the telephone band itself), so wideband recordings can be
scored narrowband on request. Other rates are resampled first. DNSMOS (reference-free, P.835
SIG/BAK/OVRL) is an optional extra: `pip install cmkt[dnsmos]`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from pathlib import Path
from typing import Callable

import numpy as np

from cmkt.audio import resample

# name -> what it needs besides the estimate: "ref", "ref+noisy" or nothing ("")
METRIC_INPUTS = {
    "pesq_wb": "ref",
    "pesq_nb": "ref",
    "stoi": "ref",
    "estoi": "ref",
    "si_sdr": "ref",
    "snr": "ref",
    "snr_gain": "ref+noisy",
    "dnsmos_sig": "",
    "dnsmos_bak": "",
    "dnsmos_ovrl": "",
}
METRICS = tuple(METRIC_INPUTS)
DEFAULT_METRICS = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr")
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
# the values a metric can take (None: unbounded): plots clip their interval bars to them
METRIC_RANGES = {
    "pesq_wb": (1.04, 4.64),  # P.862.2 MOS-LQO
    "pesq_nb": (1.02, 4.55),  # P.862.1 MOS-LQO
    "stoi": (None, 1.0),  # a correlation: at most 1 (rarely below 0)
    "estoi": (None, 1.0),
    **{name: (1.0, 5.0) for name in DNSMOS_METRICS},
}


def si_sdr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-8) -> float:
    """Scale-invariant SDR in dB (zero-mean signals, optimal scaling of the reference)."""
    ref = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    est = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    target = (np.dot(est, ref) / (np.dot(ref, ref) + eps)) * ref
    noise = est - target
    return float(10 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def snr(reference: np.ndarray, estimate: np.ndarray, eps: float = 1e-12) -> float:
    """Plain SNR in dB: the residual (estimate - reference) is the noise; no rescaling."""
    ref = np.asarray(reference, dtype=np.float64)
    residual = np.asarray(estimate, dtype=np.float64) - ref
    return float(10 * np.log10((np.dot(ref, ref) + eps) / (np.dot(residual, residual) + eps)))


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str) -> float:
    """PESQ (ITU-T P.862.2 'wb', P.862.1 'nb' MOS-LQO) via the pesq package."""
    from pesq import pesq

    rate = 8000 if (mode == "nb" and sample_rate <= 8000) else 16000
    ref = resample(np.asarray(reference, dtype=np.float32), sample_rate, rate)
    est = resample(np.asarray(estimate, dtype=np.float32), sample_rate, rate)
    return float(pesq(rate, ref.astype(np.float64), est.astype(np.float64), mode))


def stoi_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    from pystoi import stoi

    return float(
        stoi(
            np.asarray(reference, dtype=np.float64),
            np.asarray(estimate, dtype=np.float64),
            sample_rate,
            extended=extended,
        )
    )


def dnsmos_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("speechmos", "onnxruntime", "librosa"))


_dnsmos_threads = 0  # onnxruntime threads per DNSMOS model; 0: its default, every core


def limit_dnsmos_threads(threads: int) -> None:
    """Score workers run one file each on one core, so their onnxruntime pools get one thread too
    (bench/score_speed.py --dnsmos, 2 cores: 2 workers ran 1.07x one process with one thread each,
    1.04x with every core each; one process already keeps both cores busy)."""
    global _dnsmos_threads
    _dnsmos_threads = threads


@functools.lru_cache(maxsize=None)
def _dnsmos_model(threads: int):
    """speechmos's DNSMOS P.835 model with its two onnxruntime sessions on `threads` threads (0: default).

    Built here rather than by `speechmos.dnsmos.run`, whose sessions always take every core."""
    import onnxruntime
    from speechmos import dnsmos

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = threads
    folder = Path(dnsmos.__file__).parent / "dnsmos_models"
    model = dnsmos.DNSMOS.__new__(dnsmos.DNSMOS)
    model.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    model.onnx_sess = onnxruntime.InferenceSession(model.primary_model_path, options)
    model.p808_onnx_sess = onnxruntime.InferenceSession(str(folder / "model_v8.onnx"), options)
    return model


def dnsmos_scores(estimate: np.ndarray, sample_rate: int, threads: int | None = None) -> dict[str, float]:
    """DNSMOS P.835 (SIG, BAK, OVRL) of one signal, at 16 kHz, with no reference."""
    audio = np.clip(resample(np.asarray(estimate, dtype=np.float32), sample_rate, 16000), -1.0, 1.0)
    result = _dnsmos_model(_dnsmos_threads if threads is None else threads)(audio, 16000, False)
    return {
        "dnsmos_sig": float(result["sig_mos"]),
        "dnsmos_bak": float(result["bak_mos"]),
        "dnsmos_ovrl": float(result["ovrl_mos"]),
    }


def preload(metrics: tuple[str, ...]) -> None:
    """Import the metric libraries now, so that forked workers inherit them instead of each importing."""
    if any(m.startswith("pesq") for m in metrics):
        importlib.import_module("pesq")
    if any(m in ("stoi", "estoi") for m in metrics):
        importlib.import_module("pystoi")


_WITH_REFERENCE: dict[str, Callable[[np.ndarray, np.ndarray, int], float]] = {
    "pesq_wb": lambda ref, est, rate: pesq_score(ref, est, rate, "wb"),
    "pesq_nb": lambda ref, est, rate: pesq_score(ref, est, rate, "nb"),
    "stoi": lambda ref, est, rate: stoi_score(ref, est, rate),
    "estoi": lambda ref, est, rate: stoi_score(ref, est, rate, extended=True),
    "si_sdr": lambda ref, est, rate: si_sdr(ref, est),
    "snr": lambda ref, est, rate: snr(ref, est),
}


def score_signals(
    reference: np.ndarray,
    estimate: np.ndarray,
    sample_rate: int,
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    noisy: np.ndarray | None = None,
) -> dict[str, float]:
    """The requested metrics for one mono pair (already of equal length); `noisy` enables snr_gain."""
    unknown = [m for m in metrics if m not in METRIC_INPUTS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    scores: dict[str, float] = {}
    for name in metrics:
        if name in _WITH_REFERENCE:
            scores[name] = _WITH_REFERENCE[name](reference, estimate, sample_rate)
        elif name == "snr_gain":
            if noisy is None:
                raise ValueError("snr_gain needs the noisy input: score with --manifest")
            scores[name] = snr(reference, estimate) - snr(reference, noisy)
    if any(m in DNSMOS_METRICS for m in metrics):
        everything = dnsmos_scores(estimate, sample_rate)
        scores.update({m: everything[m] for m in metrics if m in DNSMOS_METRICS})
    return {m: scores[m] for m in metrics}
