"""Scoring speed: parallel efficiency of `cmkt score` and its overhead over calling pesq/pystoi directly.

Usage: python bench/score_speed.py [--files 48] [--dnsmos]
Pairs: the shared test speech (../shared/data) with white noise at 5 dB, or generated tone
bursts where it is absent, at 16 kHz. Three set-ups in one run, interleaved, best of two rounds:
(a) a plain loop reading with soundfile and calling pesq.pesq and pystoi.stoi, (b) cmkt's
score_pairs with 1 worker, (c) with 2 workers. Prints overhead = b/a - 1 and efficiency = b/(2c).
With --dnsmos: DNSMOS of the noisy files in 1 process (onnxruntime's default threads) and in 2
worker processes with onnxruntime's default threads or with one thread each (what `cmkt score
--jobs` workers use).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from cmkt.audio import read_audio
from cmkt.evaluation.score import Pair, score_pairs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
METRICS = ("pesq_wb", "stoi")


def make_pairs(count: int, folder: Path) -> tuple[list[Pair], str]:
    rng = np.random.default_rng(0)
    manifest = SHARED / "speech" / "manifest.tsv"
    speech = []
    if manifest.is_file():
        rows = [r for r in csv.DictReader(manifest.open(encoding="utf-8"), delimiter="\t") if r["split"] == "test"]
        speech = [read_audio(SHARED / r["path"], sample_rate=16000, mono=True).samples[0] for r in rows[:count]]
        source = f"{len(speech)} shared test utterances"
    while len(speech) < count:
        t = np.arange(16000 * 3) / 16000
        speech.append(
            (0.2 * np.sin(2 * np.pi * (150 + 10 * len(speech)) * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(
                np.float32
            )
        )
        source = "generated tone bursts" if not manifest.is_file() else source + " + generated"
    pairs = []
    for index, clean in enumerate(speech):
        noise = rng.standard_normal(len(clean)).astype(np.float32) * np.sqrt(np.mean(clean**2)) * 0.56
        sf.write(folder / f"c{index}.wav", clean, 16000, subtype="FLOAT")
        sf.write(folder / f"n{index}.wav", clean + noise, 16000, subtype="FLOAT")
        pairs.append(Pair(f"u{index}", folder / f"c{index}.wav", folder / f"n{index}.wav"))
    seconds = sum(len(s) for s in speech) / 16000
    return pairs, f"{source}, {seconds:.0f} s of audio"


def direct(pairs: list[Pair]) -> None:
    from pesq import pesq
    from pystoi import stoi

    for pair in pairs:
        ref, _ = sf.read(pair.reference, dtype="float64")
        est, _ = sf.read(pair.estimate, dtype="float64")
        pesq(16000, ref, est, "wb")
        stoi(ref, est, 16000)


def time_best_of_two(setups: dict) -> dict[str, float]:
    """Each set-up's best wall time over two interleaved rounds."""
    best = {name: float("inf") for name in setups}
    for _ in range(2):
        for name, run in setups.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def report(best: dict[str, float], files: int) -> None:
    for name, seconds in best.items():
        print(f"{name:36s} {seconds:7.2f} s  ({1000 * seconds / files:6.1f} ms/file)")


def _dnsmos_file(path: Path, threads: int) -> float:
    from cmkt.evaluation.metrics import dnsmos_scores

    audio, rate = sf.read(path, dtype="float32")
    return dnsmos_scores(audio, rate, threads=threads)["dnsmos_ovrl"]


def dnsmos_setups(pairs: list[Pair]) -> dict:
    """DNSMOS timed in one process and in two, with onnxruntime's default pool (0) or one thread per process."""
    from concurrent.futures import ProcessPoolExecutor

    def pooled(threads: int) -> None:
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_dnsmos_file, [p.estimate for p in pairs], [threads] * len(pairs)))

    return {
        "DNSMOS, 1 process, default threads": lambda: [_dnsmos_file(p.estimate, 0) for p in pairs],
        "DNSMOS, 2 workers, default threads": lambda: pooled(0),
        "DNSMOS, 2 workers, 1 thread each": lambda: pooled(1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--dnsmos", action="store_true", help="time DNSMOS thread set-ups instead")
    args = parser.parse_args()
    pairs, source = make_pairs(args.files, Path(tempfile.mkdtemp(prefix="cmkt-score-bench-")))
    if args.dnsmos:
        print(f"files: {len(pairs)} ({source}); metric: DNSMOS (speechmos, onnxruntime)")
        best = time_best_of_two(dnsmos_setups(pairs))
        report(best, len(pairs))
        single, default, limited = best.values()
        print(
            f"2 workers vs 1 process: {single / default:.2f}x with default threads, {single / limited:.2f}x with 1 "
            f"thread each"
        )
        return
    print(f"pairs: {len(pairs)} ({source}); metrics: {', '.join(METRICS)}")
    setups = {
        "pesq + pystoi called directly": lambda: direct(pairs),
        "cmkt score_pairs, 1 worker": lambda: score_pairs(pairs, "x", METRICS, jobs=1),
        "cmkt score_pairs, 2 workers": lambda: score_pairs(pairs, "x", METRICS, jobs=2),
    }
    best = time_best_of_two(setups)
    report(best, len(pairs))
    plain, one, two = best.values()
    print(f"per-file overhead of cmkt over the direct calls (1 worker): {100 * (one / plain - 1):+.1f}%")
    print(f"parallel efficiency, 2 workers vs 1: {one / (2 * two):.3f}")


if __name__ == "__main__":
    sys.exit(main())
