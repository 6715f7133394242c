"""`cmkt score`: pair references with estimates (by relative path), score in parallel, summarise."""
from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmkt.audio import find_audio_files, read_audio
from cmkt.errors import CmktError
from cmkt.files import write_csv_atomic
from cmkt.metrics import METRICS, score_signals
from cmkt.progress import progress_bar


@dataclass
class ScoreResult:
    system: str
    rows: list[dict] = field(default_factory=list)  # one per file: {"file", metrics..., "error"}

    def means(self, metrics: tuple[str, ...]) -> dict[str, float]:
        ok = self.ok
        return {m: float(np.mean([r[m] for r in ok])) if ok else math.nan for m in metrics}

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.rows if not r.get("error")]

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("error")]


def pair_files(ref: str | Path, est: str | Path) -> list[tuple[str, Path, Path | None]]:
    """(name, reference, estimate-or-None) pairs; folders are matched by relative path stem."""
    ref, est = Path(ref), Path(est)
    if ref.is_file():
        estimate = est / ref.name if est.is_dir() else est
        return [(ref.stem, ref, estimate if estimate.is_file() else None)]
    if not ref.is_dir():
        raise CmktError(f"{ref}: reference folder not found; check --ref")
    if not est.is_dir():
        raise CmktError(f"{est}: estimate folder not found; check --est")
    estimates = {p.relative_to(est).with_suffix("").as_posix(): p for p in find_audio_files(est)}
    pairs = []
    for reference in find_audio_files(ref):
        key = reference.relative_to(ref).with_suffix("").as_posix()
        pairs.append((key, reference, estimates.get(key)))
    if not pairs:
        raise CmktError(f"{ref}: no reference audio found; check --ref")
    return pairs


def _score_one(args: tuple[str, Path, Path | None, tuple[str, ...]]) -> dict:
    name, reference, estimate, metrics = args
    row: dict = {"file": name}
    try:
        if estimate is None:
            raise CmktError(f"{name}: no estimate with this name; enhance it or remove the reference")
        ref = read_audio(reference, mono=True)
        est = read_audio(estimate, sample_rate=ref.sample_rate, mono=True)
        if np.abs(ref.samples).max() == 0 or np.abs(est.samples).max() == 0:
            raise CmktError(f"{estimate}: all-zero audio cannot be scored; check the file")
        row.update(score_signals(ref.samples[0], est.samples[0], ref.sample_rate, metrics))
    except CmktError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # a metric library failing on one file must not stop the run
        row["error"] = f"{estimate}: {type(exc).__name__}: {exc}"
    return row


def score_pairs(ref: str | Path, est: str | Path, system: str = "est", metrics: tuple[str, ...] = METRICS, jobs: int = 1) -> ScoreResult:
    """Score every reference against its estimate; failures become per-file errors."""
    pairs = pair_files(ref, est)
    work = [(name, r, e, tuple(metrics)) for name, r, e in pairs]
    result = ScoreResult(system)
    with progress_bar() as bar:
        task = bar.add_task(f"scoring {system}", total=len(work), status="")
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as pool:
                for row in pool.map(_score_one, work, chunksize=4):
                    result.rows.append(row)
                    bar.advance(task)
        else:
            for item in work:
                result.rows.append(_score_one(item))
                bar.advance(task)
    return result


def write_scores_csv(path: str | Path, results: list[ScoreResult], metrics: tuple[str, ...]) -> None:
    """Per-file scores of every system in one CSV (system, file, metrics..., error)."""
    rows = [
        {"system": result.system, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}}
        for result in results
        for row in result.rows
    ]
    write_csv_atomic(path, ["system", "file", *metrics, "error"], rows)
