"""The alignment ablation on the shared multilingual data: baseline vs CMKT with each alignment,
several seeds, same steps; PESQ/STOI/SI-SDR on the test split, mean and standard deviation over
seeds, per language.

Usage: python bench/ablation.py [--data ../shared/data] [--out runs/ablation] [--steps 600] [--seeds 0 1 2]
                             [--parallel 2]
       [--systems baseline baseline-aug attention ...]
Every stage resumes: rerun the same command after an interruption. Training logs go to OUT/logs/.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the recipes, as the namespace package `recipes`
METRICS = ("pesq_wb", "stoi", "si_sdr")


def cmkt(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cmkt", *args], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "ablation")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--systems",
        nargs="+",
        default=["baseline", "attention", "uot", "tot", "uniform"],
        help="baseline or an alignment; a -aug suffix adds --noise-augment (baseline-aug, attention-aug)",
    )
    parser.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    args = parser.parse_args()
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    from recipes.cmkt_base.run import run_all

    started = time.perf_counter()
    data = prepared_data(args.data, args.out)
    commands = {}
    for seed in args.seeds:
        for system in args.systems:
            run = args.out / "runs" / f"{system}_s{seed}"
            if (run / "model.pt").is_file() and steps_done(run) >= args.steps:
                continue
            alignment, _, variant = system.partition("-")  # e.g. baseline-aug: with --noise-augment
            options = ["--teacher", "none"] if alignment == "baseline" else ["--align", alignment]
            options += ["--noise-augment"] if variant == "aug" else []
            commands[run.name] = train_command(data, run, args.steps, seed, threads, *options)
    run_all(commands, args.parallel, args.out / "logs")
    print(f"training finished at {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    estimates = []
    for seed in args.seeds:
        for system in args.systems:
            name = f"{system}_s{seed}"
            enhanced = args.out / "enhanced" / name
            enhance_test(data / "test" / "noisy", args.out / "runs" / name / "model.pt", enhanced)
            estimates += ["--est", f"{name}={enhanced}"]
    cmkt(
        "score",
        "--manifest",
        str(data / "test.jsonl"),
        *estimates,
        "--metrics",
        ",".join(METRICS),
        "--by",
        "lang",
        "-o",
        str(args.out / "scores"),
    )
    report(args.out / "scores" / "scores.csv", args.systems, args.seeds)
    print(f"ablation finished in {(time.perf_counter() - started) / 60:.1f} min")


def enhance_test(noisy: Path, model: Path, enhanced: Path) -> None:
    """Enhance the test inputs with `model`, unless an earlier complete pass is there (a rerun resumes)."""
    if len(list(enhanced.glob("*.wav"))) < len(list(noisy.glob("*.wav"))):
        cmkt("enhance", str(noisy), "-o", str(enhanced), "--model", str(model), "--overwrite")


def prepared_data(shared: Path, out: Path) -> Path:
    """The shared speech (train/valid/test split) with its noises, prepared once: mixtures at -5..10 dB and the
    teacher cache."""
    from recipes.asterisk.run import build_inputs

    data = out / "data"
    if not (data / "test.jsonl").is_file():
        table, noise = build_inputs(shared.resolve(), out)
        cmkt("prep", "--speech", str(table), "--noise", str(noise), "-o", str(data), "--snr-range", "-5", "10")
    return data


def train_command(
    data: Path, run: Path, steps: int, seed: int, threads: int, *options: str, valid_items: int = 32
) -> list[str]:
    """The one training set-up every comparison shares (dynamic mixing, cosine decay, 4 validations); `options` vary."""
    from recipes.cmkt_base.run import cmkt_command

    return cmkt_command(
        "train",
        "--train",
        str(data / "train.jsonl"),
        "--valid",
        str(data / "valid.jsonl"),
        "-o",
        str(run),
        "--steps",
        str(steps),
        "--valid-every",
        str(max(1, steps // 4)),
        "--valid-items",
        str(valid_items),
        "--dynamic-mixing",
        "--lr-decay",
        "cosine",
        "--seed",
        str(seed),
        "--threads",
        str(threads),
        *options,
        *(["--resume"] if (run / "checkpoint.pt").is_file() else []),
    )


def steps_done(run: Path) -> int:
    """How far a run has trained (0 before its first checkpoint)."""
    from cmkt.registry import load_payload

    if not (run / "checkpoint.pt").is_file():
        return 0
    return int(load_payload(run / "checkpoint.pt")["step"])


def report(scores_csv: Path, systems: list[str], seeds: list[int]) -> None:
    """Per system: the mean over seeds of each seed's test mean (± standard deviation over seeds), overall and per
    language."""
    rows = [r for r in csv.DictReader(scores_csv.open(encoding="utf-8")) if not r.get("error")]
    languages = sorted({r["lang"] for r in rows if r.get("lang")})
    for group in ["all", *languages]:
        print(f"\n{group}: mean over {len(seeds)} seeds (± sd over seeds) of the per-seed test mean")
        print("| system | " + " | ".join(METRICS) + " |\n|---" * 1 + "|---" * len(METRICS) + "|")
        for system in ["noisy", *systems]:
            cells = []
            for metric in METRICS:
                per_seed = []
                for seed in [None] if system == "noisy" else seeds:
                    label = "noisy" if system == "noisy" else f"{system}_s{seed}"
                    values = [
                        float(r[metric])
                        for r in rows
                        if r["system"] == label and (group == "all" or r["lang"] == group)
                    ]
                    if values:
                        per_seed.append(statistics.fmean(values))
                sd = statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0
                cells.append(f"{statistics.fmean(per_seed):.3f} ± {sd:.3f}" if per_seed else "-")
            print(f"| {system} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
