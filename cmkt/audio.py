"""Audio in and out: soundfile for files, torchaudio for resampling; every check in one place.

All audio inside CMKT is float32 shaped (channels, samples). Reading validates what training and
scoring would otherwise fail on much later (empty files, NaN samples, unreadable containers).
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import soundfile as sf

from cmkt.errors import CmktError
from cmkt.util.atomic_files import atomic_path

# Every container libsndfile reads and writes that people record or deliver speech in; MP3 and Opus
# need libsndfile 1.1+ (what soundfile's wheels ship). A suffix whose name is not the libsndfile
# format's is mapped to its (format, subtype) in CONTAINERS.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".caf", ".w64", ".rf64", ".au")
CONTAINERS: dict[str, tuple[str, str | None]] = {
    ".opus": ("OGG", "OPUS"),
    ".aif": ("AIFF", None),
    ".ogg": ("OGG", None),
}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def container_of(path: str | Path) -> tuple[str, str | None]:
    """(libsndfile format, the subtype that suffix implies or None) of an output path."""
    suffix = Path(path).suffix.lower()
    return CONTAINERS.get(suffix, (suffix[1:].upper(), None))


@dataclass
class Audio:
    """Samples (channels, n) with their rate and the file's subtype (to write outputs alike)."""

    samples: np.ndarray
    sample_rate: int
    subtype: str | None = None

    @property
    def duration_s(self) -> float:
        return self.samples.shape[-1] / self.sample_rate


@contextlib.contextmanager
def open_audio(path: str | Path) -> Iterator[sf.SoundFile]:
    """Open an audio file for reading, turning every way it can be unreadable into one clear error."""
    path = Path(path)
    if not path.is_file():
        raise CmktError(f"{path}: file not found; check the path")
    if path.stat().st_size == 0:
        raise CmktError(f"{path}: empty file (0 bytes); copy or record it again")
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise CmktError(f"{path}: not a readable audio file ({exc}); re-encode it as WAV or FLAC") from exc
    with handle:
        if handle.frames == 0:
            raise CmktError(f"{path}: audio file has no samples; remove it or replace it with a real recording")
        try:
            yield handle
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise CmktError(f"{path}: audio file is damaged ({exc}); re-encode it as WAV or FLAC") from exc


def check_finite(path: str | Path, samples: np.ndarray) -> np.ndarray:
    if not np.isfinite(samples).all():
        raise CmktError(f"{path}: audio contains NaN or infinite samples; re-export the file")
    return samples


def read_audio(path: str | Path, *, sample_rate: int | None = None, mono: bool = False) -> Audio:
    """Read and validate an audio file; optionally down-mix and resample it."""
    with open_audio(path) as handle:
        data = check_finite(path, handle.read(dtype="float32", always_2d=True))
        audio = Audio(np.ascontiguousarray(data.T), int(handle.samplerate), handle.subtype)
    if mono and audio.samples.shape[0] > 1:
        audio.samples = audio.samples.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != audio.sample_rate:
        audio.samples = resample(audio.samples, audio.sample_rate, sample_rate)
        audio.sample_rate = sample_rate
    return audio


def audio_seconds(path: str | Path) -> float:
    """Duration from the header alone (validated like a read)."""
    with open_audio(path) as handle:
        return handle.frames / handle.samplerate


def declared_frames(path: str | Path) -> int:
    """The frame count a PCM WAV header declares, 0 where it is not PCM WAV. libsndfile quietly
    trusts the file's size instead, so a cut download or copy would pass as a shorter recording.
    The RIFF chunks are walked here rather than with the `wave` module: a signal that lands inside
    `wave.open` leaves a half-built reader whose destructor prints a traceback at exit."""
    if Path(path).suffix.lower() != ".wav":
        return 0
    try:
        with open(path, "rb") as handle:
            riff = handle.read(12)
            if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":  # RF64 and the rest: not what this reads
                return 0
            block_align = 0
            while len(header := handle.read(8)) == 8:
                chunk, size = header[:4], struct.unpack("<I", header[4:])[0]
                if chunk == b"fmt ":
                    fmt = handle.read(size + size % 2)
                    if struct.unpack("<H", fmt[:2])[0] != 1:  # not PCM
                        return 0
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                elif chunk == b"data":
                    return size // block_align if block_align else 0
                else:
                    handle.seek(size + size % 2, 1)
    except (OSError, struct.error):
        return 0
    return 0


TRUNCATED_BELOW = 0.98  # a WAV holding less than this share of the samples its header declares is truncated


def truncation_note(path: str | Path) -> str | None:
    """A warning when a WAV file holds less than TRUNCATED_BELOW of the samples its header declares."""
    declared = declared_frames(path)
    if not declared:
        return None
    info = sf.info(str(path))
    frames, sample_rate = info.frames, info.samplerate
    if frames < declared * TRUNCATED_BELOW:
        return (
            f"{path}: truncated ({frames / sample_rate:.2f} s of the {declared / sample_rate:.2f} s its header "
            f"declares); "
            "what is there was used; copy or download the file again"
        )
    return None


def read_blocks(handle: sf.SoundFile, block_frames: int) -> Iterator[np.ndarray]:
    """(channels, n) float32 blocks of an open file, each checked for NaN and inf."""
    for block in handle.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
        yield check_finite(handle.name, np.ascontiguousarray(block.T))


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling along the last axis (torchaudio's windowed sinc)."""
    if from_rate == to_rate:
        return samples
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), from_rate, to_rate)
    return out.numpy()


def output_subtype(target: str | Path, input_subtype: str | None, requested: str | None = None) -> str | None:
    """The subtype to write: the one asked for, else the input's if the target's container takes it,
    else None (soundfile's default for that container)."""
    if requested:
        return requested
    container, implied = container_of(target)
    if implied:
        return implied
    return input_subtype if input_subtype and sf.check_format(container, input_subtype) else None


def fit_to_subtype(samples: np.ndarray, subtype: str | None) -> np.ndarray:
    """(channels, n) float samples -> (n, channels) for soundfile, clipped for PCM formats."""
    data = np.asarray(samples, dtype=np.float32)
    data = data.T if data.ndim == 2 else data
    return np.clip(data, -1.0, 1.0) if subtype is None or subtype.startswith("PCM") else data


@contextlib.contextmanager
def audio_writer(
    path: str | Path, sample_rate: int, channels: int, subtype: str | None = None, comment: str | None = None
) -> Iterator[Callable[[np.ndarray], None]]:
    """Write (channels, n) blocks to `path` atomically: the file appears only when complete. `comment`
    goes into the file's tags where the container has them (W64 has none: then it is left out)."""
    container, implied = container_of(path)
    subtype = subtype or implied
    if subtype == "OPUS" and sample_rate not in OPUS_RATES:
        raise CmktError(
            f"{path}: Opus stores {', '.join(f'{r // 1000}' for r in OPUS_RATES)} kHz only, not {sample_rate} Hz; "
            "pass --rate 48000 or choose a .flac output"
        )
    with atomic_path(path) as tmp:
        try:
            handle = sf.SoundFile(str(tmp), "w", sample_rate, channels, subtype, format=container)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            if not os.access(Path(path).parent, os.W_OK):
                raise CmktError(
                    f"{path}: cannot write (permission denied in {Path(path).parent}); choose a writable -o folder"
                ) from exc
            raise CmktError(f"{path}: cannot write this format ({exc}); choose a .wav or .flac output") from exc
        with handle:
            if comment:
                with contextlib.suppress(sf.LibsndfileError, RuntimeError):
                    handle.comment = comment
            yield lambda block: handle.write(fit_to_subtype(block, subtype))


def write_audio(
    path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None, comment: str | None = None
) -> None:
    """Write (channels, n) or (n,) float samples atomically; clips to [-1, 1] for PCM subtypes."""
    data = np.asarray(samples, dtype=np.float32)
    with audio_writer(path, sample_rate, 1 if data.ndim == 1 else data.shape[0], subtype, comment) as write:
        write(data)


def find_audio_files(folder: str | Path) -> list[Path]:
    """All audio files below `folder`, sorted, skipping hidden (temporary) files."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )
