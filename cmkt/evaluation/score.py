"""`cmkt score`: pair references with estimates, score in parallel, keep per-file rows.

Pairs come from folders (matched by relative path) or from a manifest (matched by utterance id,
which also gives the noisy input, for snr_gain and a "noisy" row, and the columns to group by:
lang, speaker, noise, snr, snr_band, split). A file that cannot be scored becomes a per-file error; the
run goes on.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmkt.audio import find_audio_files, read_audio
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_csv_atomic
from cmkt.data.manifest import read_manifest
from cmkt.evaluation.metrics import DEFAULT_METRICS, limit_dnsmos_threads, preload, score_signals
from cmkt.util.progress import progress_bar
from cmkt.evaluation.cache import ScoreCache, pair_key
from cmkt.util.sharding import take_shard

GROUP_COLUMNS = ("lang", "speaker", "noise", "snr", "snr_band", "split")
SNR_BAND_DB = 5.0  # snr_band groups a continuous SNR draw (e.g. -5..15 dB uniform) into bands this wide


def snr_band(snr_db: float | None) -> str:
    """The band an SNR falls in, "lo..hi" dB with lo a multiple of SNR_BAND_DB: -2.3 -> "-5..0", 5 -> "5..10"."""
    if snr_db is None:
        return ""
    low = np.floor(snr_db / SNR_BAND_DB) * SNR_BAND_DB
    return f"{low:g}..{low + SNR_BAND_DB:g}"


LENGTH_TOLERANCE_S = 0.02


@dataclass
class Pair:
    key: str
    reference: Path
    estimate: Path | None
    noisy: Path | None = None
    groups: dict[str, str] = field(default_factory=dict)


@dataclass
class ScoreResult:
    system: str
    rows: list[dict] = field(default_factory=list)  # one per file: {"file", groups..., metrics..., "warning", "error"}

    def values(self, metric: str) -> dict[str, float]:
        return {r["file"]: r[metric] for r in self.ok if r.get(metric) is not None}

    @property
    def ok(self) -> list[dict]:
        return [r for r in self.rows if not r.get("error")]

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r.get("error")]


def _index_by_stem(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in find_audio_files(folder):
        found[path.relative_to(folder).with_suffix("").as_posix()] = path
        found.setdefault(path.stem, path)
    return found


def pairs_from_folders(ref: str | Path, est: str | Path) -> list[Pair]:
    """Pairs matched by relative path without suffix (a single file pairs with est or est/NAME)."""
    ref, est = Path(ref), Path(est)
    if ref.is_file():
        estimate = est / ref.name if est.is_dir() else est
        return [Pair(ref.stem, ref, estimate if estimate.is_file() else None)]
    if not ref.is_dir():
        raise CmktError(f"{ref}: reference folder not found; check --ref")
    if not est.is_dir():
        raise CmktError(f"{est}: estimate folder not found; check --est")
    estimates = {p.relative_to(est).with_suffix("").as_posix(): p for p in find_audio_files(est)}
    pairs = []
    for reference in find_audio_files(ref):
        key = reference.relative_to(ref).with_suffix("").as_posix()
        pairs.append(Pair(key, reference, estimates.get(key)))
    if not pairs:
        raise CmktError(f"{ref}: no reference audio found; check --ref")
    return pairs


def pairs_from_manifest(manifest: str | Path, est: str | Path | None) -> list[Pair]:
    """One pair per utterance: clean reference, the estimate named like its id or its noisy file
    (None for est: the noisy mixture itself is scored)."""
    utterances = read_manifest(manifest)
    estimates = _index_by_stem(Path(est)) if est is not None else {}
    if est is not None and not Path(est).is_dir():
        raise CmktError(f"{est}: estimate folder not found; check --est")
    pairs = []
    for utt in utterances:
        noisy = Path(utt.noisy) if utt.noisy else None
        if est is None:
            estimate = noisy
        else:
            estimate = estimates.get(utt.id) or (estimates.get(noisy.stem) if noisy else None)
        groups = {
            "lang": utt.lang,
            "speaker": utt.speaker,
            "noise": utt.noise,
            "split": utt.split,
            "snr": "" if utt.snr_db is None else f"{utt.snr_db:g}",
            "snr_band": snr_band(utt.snr_db),
        }
        pairs.append(Pair(utt.id, Path(utt.clean), estimate, noisy, groups))
    return pairs


def score_pair(pair: Pair, metrics: tuple[str, ...]) -> dict:
    """One file's row: its groups and scores, a warning if lengths differed, or its error."""
    row: dict = {"file": pair.key, **pair.groups, "warning": "", "error": ""}
    try:
        if pair.estimate is None:
            raise CmktError(f"{pair.key}: no estimate with this name; enhance it or remove the reference")
        ref = read_audio(pair.reference, mono=True)
        est = read_audio(pair.estimate, sample_rate=ref.sample_rate, mono=True)
        signals = [ref.samples[0], est.samples[0]]
        if pair.noisy is not None and "snr_gain" in metrics:
            signals.append(read_audio(pair.noisy, sample_rate=ref.sample_rate, mono=True).samples[0])
        if not np.any(signals[0]):
            raise CmktError(f"{pair.reference}: the reference is all zeros and cannot be scored; check the file")
        if not np.any(signals[1]):
            raise CmktError(f"{pair.estimate}: all-zero audio cannot be scored; check the file")
        length = min(len(s) for s in signals)
        gap = (len(signals[1]) - len(signals[0])) / ref.sample_rate
        if abs(gap) > LENGTH_TOLERANCE_S:
            row["warning"] = (
                f"estimate {'longer' if gap > 0 else 'shorter'} than reference by {abs(gap):.3f} s; scored the "
                f"common part"
            )
        signals = [s[:length] for s in signals]
        row.update(
            score_signals(signals[0], signals[1], ref.sample_rate, metrics, signals[2] if len(signals) > 2 else None)
        )
    except CmktError as exc:
        row["error"] = str(exc)
    except Exception as exc:  # a metric library failing on one file must not stop the run
        row["error"] = f"{pair.estimate}: {type(exc).__name__}: {exc}"
    return row


def _score_job(job: tuple[Pair, tuple[str, ...]]) -> dict:
    return score_pair(*job)


def score_pairs(
    pairs: list[Pair],
    system: str = "est",
    metrics: tuple[str, ...] = DEFAULT_METRICS,
    jobs: int = 1,
    shard: tuple[int, int] | None = None,
    cache: ScoreCache | None = None,
) -> ScoreResult:
    """Score every pair (or this shard's share), in `jobs` processes; failures become per-file errors.

    With a `cache`, metrics already known for an unchanged pair are reused and only the rest computed."""
    chosen = tuple(metrics)
    result, work, known = ScoreResult(system), [], {}
    for pair in take_shard(sorted(pairs, key=lambda p: p.key), shard):
        values, warning = (
            cache.lookup(pair_key(pair.reference, pair.estimate, pair.noisy), chosen) if cache else ({}, "")
        )
        missing = tuple(m for m in chosen if m not in values)
        if missing:
            work.append((pair, missing))
            known[pair.key] = values
        else:
            result.rows.append({"file": pair.key, **pair.groups, **values, "warning": warning, "error": ""})
    with progress_bar() as bar:
        task = bar.add_task(
            f"scoring {system}",
            total=len(work) + len(result.rows),
            status=f"{len(result.rows)} unchanged, from the cache" if result.rows else "",
        )
        bar.advance(task, len(result.rows))
        if jobs > 1 and len(work) > 1:
            preload(chosen)
            # Longest files first, one per task: the workers then finish together (LPT scheduling).
            work.sort(key=lambda job: _size(job[0].reference), reverse=True)
            with ProcessPoolExecutor(min(jobs, len(work)), initializer=_one_thread_per_worker) as pool:
                for job, row in zip(work, pool.map(_score_job, work)):
                    result.rows.append(_join_cached(job, row, known[job[0].key], cache))
                    bar.advance(task)
        else:
            for job in work:
                result.rows.append(_join_cached(job, _score_job(job), known[job[0].key], cache))
                bar.advance(task)
    result.rows.sort(key=lambda row: row["file"])
    if cache is not None and work:
        cache.save()
    return result


def _join_cached(
    job: tuple[Pair, tuple[str, ...]], row: dict, cached: dict[str, float], cache: ScoreCache | None
) -> dict:
    """The computed metrics joined with the cached ones; the new values go into the cache."""
    pair, computed = job
    if cache is not None:
        cache.store(pair_key(pair.reference, pair.estimate, pair.noisy), row, computed)
    return row if row.get("error") else {**cached, **row}


def _one_thread_per_worker() -> None:
    """Each worker is one file at a time on one core: BLAS/OpenMP or onnxruntime (DNSMOS) threads on top
    would oversubscribe the cores (bench/score_speed.py: 2 workers reached 0.78 of linear speed with
    BLAS threads, 0.93 without)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")
    limit_dnsmos_threads(1)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def score_columns(results: list[ScoreResult], metrics: tuple[str, ...]) -> list[str]:
    groups = [c for c in GROUP_COLUMNS if any(r.get(c) for result in results for r in result.rows)]
    return ["system", "file", *groups, *metrics, "warning", "error"]


def write_scores_csv(path: str | Path, results: list[ScoreResult], metrics: tuple[str, ...]) -> None:
    """Per-file scores of every system in one CSV (system, file, groups..., metrics..., warning, error)."""
    rows = [
        {"system": result.system, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}}
        for result in results
        for row in result.rows
    ]
    write_csv_atomic(path, score_columns(results, metrics), rows)


def read_scores_csv(path: str | Path) -> tuple[list[ScoreResult], tuple[str, ...]]:
    """Load a scores.csv (or several systems' rows) back into results; metrics are the numeric columns."""
    import csv

    path = Path(path)
    if path.is_dir():
        path = path / "scores.csv"
    if not path.is_file():
        raise CmktError(f"{path}: no scores.csv here; pass a folder written by `cmkt score -o` or its scores.csv")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        rows = list(reader)
    if "system" not in fields or "file" not in fields:
        raise CmktError(f"{path}: not a cmkt scores file (needs system and file columns)")
    metrics = tuple(f for f in fields if f not in ("system", "file", "warning", "error", *GROUP_COLUMNS))
    by_system: dict[str, ScoreResult] = {}
    for row in rows:
        parsed = {k: v for k, v in row.items() if k != "system"}
        for metric in metrics:
            parsed[metric] = float(row[metric]) if row.get(metric) not in (None, "") else None
        by_system.setdefault(row["system"], ScoreResult(row["system"])).rows.append(parsed)
    return list(by_system.values()), metrics


def merge_results(runs: list[tuple[str, list[ScoreResult]]]) -> list[ScoreResult]:
    """Join several runs' results (shards of one corpus, or different systems) by system name.

    A (system, file) pair scored in two runs is an error: shards must not overlap.
    """
    merged: dict[str, ScoreResult] = {}
    seen: dict[tuple[str, str], str] = {}
    for source, results in runs:
        for result in results:
            target = merged.setdefault(result.system, ScoreResult(result.system))
            for row in result.rows:
                key = (result.system, row["file"])
                if key in seen:
                    raise CmktError(
                        f"{source}: {result.system}/{row['file']} was already scored in {seen[key]}; "
                        "merge shards that do not overlap, or rename one system"
                    )
                seen[key] = source
                target.rows.append(row)
    return list(merged.values())
