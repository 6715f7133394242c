"""Each source file measured (length, peak, clipping) and written once as 16 kHz mono FLAC.

Measurements are what the quality rules (clipped speech, silent files) need; they are kept in
a cache beside the converted audio so that a rerun neither reads nor converts anything twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from cmkt.audio import TRUNCATED_BELOW, declared_frames, open_audio, resample, write_audio
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_text_atomic

RATE = 16000
CLIP_LEVEL = 0.99  # a sample at or above this share of full scale counts as clipped


@dataclass(frozen=True)
class Measured:
    """What converting one file found out."""

    seconds: float
    source_rate: int
    peak: float
    clipped_share: float  # share of samples at CLIP_LEVEL or above (in the source, before resampling)


def file_digest(path: Path) -> str:
    """sha1 of the file's bytes: exact duplicates share it."""
    digest = hashlib.sha1()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_file(source: Path, target: Path) -> Measured:
    """Read `source` (any rate, channels, format soundfile reads), write `target` as 16 kHz mono FLAC."""
    with open_audio(source) as handle:
        declared = max(handle.frames, declared_frames(source))
        data = handle.read(dtype="float32", always_2d=True)
        rate = int(handle.samplerate)
    if len(data) < declared * TRUNCATED_BELOW:
        raise CmktError(
            f"{source}: truncated ({len(data) / rate:.2f} s of the {declared / rate:.2f} s its header declares); "
            "download or extract it again"
        )
    if not np.isfinite(data).all():
        raise CmktError(f"{source}: NaN or infinite samples; the file is damaged")
    mono = data.mean(axis=1)
    measured = Measured(
        round(len(mono) / rate, 3),
        rate,
        round(float(np.abs(data).max()), 4),
        round(float((np.abs(data) >= CLIP_LEVEL).mean()), 5),
    )
    if not target.is_file():
        write_audio(target, resample(mono[None, :], rate, RATE)[0], RATE, "PCM_16")
    return measured


def _convert_job(job: tuple[str, str]) -> tuple[str, dict | None, str]:
    source, target = map(Path, job)
    try:
        return job[0], asdict(convert_file(source, target)), ""
    except CmktError as exc:
        return job[0], None, str(exc)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


class ConversionCache:
    """Measurements of converted files by source path, saved atomically every few hundred files."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def save(self) -> None:
        write_text_atomic(self.path, json.dumps(self.entries, sort_keys=True))

    def convert_all(self, jobs: Iterable[tuple[Path, Path]], workers: int, on_done=lambda: None) -> dict[str, str]:
        """Convert every (source, target) not done yet; returns source -> error for the failures."""
        todo, failures = [], {}
        for source, target in jobs:
            entry = self.entries.get(str(source))
            if entry is not None and (entry.get("error") or target.is_file()):
                on_done()
                if entry.get("error"):
                    failures[str(source)] = entry["error"]
                continue
            todo.append((str(source), str(target)))
        for count, (source, measured, error) in enumerate(self._run(todo, workers), start=1):
            self.entries[source] = measured if measured is not None else {"error": error}
            if error:
                failures[source] = error
            on_done()
            if count % 500 == 0:
                self.save()
        self.save()
        return failures

    @staticmethod
    def _run(todo: list[tuple[str, str]], workers: int) -> Iterator[tuple[str, dict | None, str]]:
        if workers <= 1 or len(todo) < 8:
            _init_worker()
            yield from map(_convert_job, todo)
            return
        with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
            yield from pool.map(_convert_job, todo, chunksize=16)

    def measured(self, source: Path) -> Measured | None:
        entry = self.entries.get(str(source))
        return Measured(**entry) if entry and "error" not in entry else None


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
