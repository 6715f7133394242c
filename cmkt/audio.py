"""Audio in and out: soundfile for files, torchaudio for resampling; every check in one place.

All audio inside CMKT is float32 shaped (channels, samples). Reading validates what training and
scoring would otherwise fail on much later (empty files, NaN samples, unreadable containers).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from cmkt.errors import CmktError
from cmkt.files import atomic_path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass
class Audio:
    """Samples (channels, n) with their rate and the file's subtype (to write outputs alike)."""

    samples: np.ndarray
    sample_rate: int
    subtype: str | None = None

    @property
    def duration_s(self) -> float:
        return self.samples.shape[-1] / self.sample_rate


def read_audio(path: str | Path, *, sample_rate: int | None = None, mono: bool = False) -> Audio:
    """Read and validate an audio file; optionally down-mix and resample it."""
    path = Path(path)
    if not path.is_file():
        raise CmktError(f"{path}: file not found; check the path")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        subtype = sf.info(str(path)).subtype
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise CmktError(f"{path}: not a readable audio file ({exc}); re-encode it as WAV or FLAC") from exc
    if data.shape[0] == 0:
        raise CmktError(f"{path}: audio file has no samples; remove it or replace it with a real recording")
    if not np.isfinite(data).all():
        raise CmktError(f"{path}: audio contains NaN or infinite samples; re-export the file")
    audio = Audio(np.ascontiguousarray(data.T), int(sr), subtype)
    if mono and audio.samples.shape[0] > 1:
        audio.samples = audio.samples.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != audio.sample_rate:
        audio.samples = resample(audio.samples, audio.sample_rate, sample_rate)
        audio.sample_rate = sample_rate
    return audio


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling along the last axis (torchaudio's windowed sinc)."""
    if from_rate == to_rate:
        return samples
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), from_rate, to_rate)
    return out.numpy()


def write_audio(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None) -> None:
    """Write (channels, n) or (n,) float samples atomically; clips to [-1, 1] for PCM subtypes."""
    data = np.asarray(samples, dtype=np.float32)
    data = data.T if data.ndim == 2 else data
    if subtype is None or subtype.startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sample_rate, subtype=subtype)


def find_audio_files(folder: str | Path) -> list[Path]:
    """All audio files below `folder`, sorted, skipping hidden (temporary) files."""
    folder = Path(folder)
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
