"""Issue 30's English ablation: does the linguistic distillation pay where the English teacher reads the words?

Usage: python bench/english_ablation.py [--corpus ~/.cache/cmkt/open_corpus] [--out ~/.cache/cmkt/runs/english]
           [--steps 1000] [--seeds 0 1 2] [--systems baseline gru branch] [--reference baseline] [--parallel 2]

The SpeechOcean762 sentences of the open corpus (recipes/open_corpus/build.py) only: held-out
speakers and noises in valid and test. Every system trains from the same seed's initial weights on
the same batches; what differs is listed in SYSTEMS. Checkpoints are chosen on valid; test is
scored once per run (PESQ-WB, STOI, ESTOI, SI-SDR). The report gives, per system, its paired
difference to the baseline: the mean over seeds of each seed's mean paired difference, with a
t-interval over seeds (the pre-registered measure), and the difference pooled over files.
Every stage resumes: rerun the same command after an interruption. Logs go to OUT/logs/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ and recipes/ as namespace packages
from bench.ablation import cmkt, enhance_test, steps_done, train_command  # noqa: E402

METRICS = ("pesq_wb", "stoi", "estoi", "si_sdr")
SOURCE = "speechocean762"  # the English read speech: the one source whose words this teacher reads
BACKBONE = {"hidden": 256, "deep_filter_order": 3}
SHARED = [  # what every run shares besides seed, steps and data (the v2 recipe's augmentations and loss)
    "--augment",
    "noise,reverb=0.3,level,band_limit=0.2",
    "--loss",
    "spectral_mae=1,wave_mae=1,stoi=1",
    "--select",
    "pesq_wb=1,stoi=4",
]
SYSTEMS: dict[str, tuple[dict, list[str]]] = {  # name -> (backbone settings added, train flags added)
    "baseline": ({}, ["--teacher", "none"]),
    "gru": ({}, ["--align", "attention"]),  # CMKT today: GRU tap, attention, alpha 0.9, shift 100 ms at p 0.5
    "branch": ({"tap": "branch", "branch_hidden": 128}, ["--align", "attention"]),
    "baseline_branch": ({"tap": "branch", "branch_hidden": 128}, ["--teacher", "none"]),  # the branch's capacity alone
    "alpha97": ({}, ["--align", "attention", "--alpha", "0.97"]),
    "noshift": ({}, ["--align", "attention", "--shift-prob", "0"]),
    "uot": ({}, ["--align", "uot"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path.home() / ".cache" / "cmkt" / "open_corpus")
    parser.add_argument("--out", type=Path, default=Path.home() / ".cache" / "cmkt" / "runs" / "english")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--systems", nargs="+", default=["baseline", "gru", "branch"], choices=sorted(SYSTEMS))
    parser.add_argument(
        "--reference", default="baseline", choices=sorted(SYSTEMS), help="what the others are paired with"
    )
    parser.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    parser.add_argument("--valid-items", type=int, default=32)
    args = parser.parse_args()
    if args.reference not in args.systems:
        parser.error(
            f"--systems must include {args.reference}: every other system is reported against it (--reference)"
        )
    started = time.perf_counter()
    data = prepared_data(args.corpus, args.out)
    threads = max(1, (os.cpu_count() or 1) // args.parallel)
    commands = {}
    for seed in args.seeds:  # seed-major: an interrupted ablation leaves whole seeds
        for system in args.systems:
            run = args.out / "runs" / f"{system}_s{seed}"
            if (run / "model.pt").is_file() and steps_done(run) >= args.steps:
                continue
            settings, flags = SYSTEMS[system]
            options = [
                "--model-config",
                json.dumps({**BACKBONE, **settings}),
                "--rirs",
                str(args.corpus / "rooms" / "train"),
            ]
            commands[run.name] = train_command(
                data, run, args.steps, seed, threads, *options, *SHARED, *flags, valid_items=args.valid_items
            )
    from recipes.cmkt_base.run import run_all

    run_all(commands, args.parallel, args.out / "logs")
    print(f"training finished at {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    names = [f"{system}_s{seed}" for seed in args.seeds for system in args.systems]
    estimates = []
    for name in names:
        enhanced = args.out / "enhanced" / name
        enhance_test(data / "test" / "noisy", args.out / "runs" / name / "model.pt", enhanced)
        estimates += ["--est", f"{name}={enhanced}"]
    scores = args.out / "scores"
    cmkt("score", "--manifest", str(data / "test.jsonl"), *estimates, "--metrics", ",".join(METRICS), "-o", str(scores))
    report = paired_report(
        scores / "scores.csv", args.systems, args.seeds, args.reference, plot=args.out / "differences.png"
    )
    (args.out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"ablation finished in {(time.perf_counter() - started) / 60:.1f} min")


def prepared_data(corpus: Path, out: Path) -> Path:
    """The open corpus's English sentences (train/valid/test as the corpus split them) with its noises,
    mixed at -5..20 dB as the v2 recipe mixes, and the teacher cache; prepared once."""
    data = out / "data"
    if not (data / "test.jsonl").is_file():
        if not (corpus / "speech.tsv").is_file():
            sys.exit(f"no open corpus at {corpus}: build it with python recipes/open_corpus/build.py --git-dir DIR")
        lines = (corpus / "speech.tsv").read_text(encoding="utf-8").splitlines()
        source = lines[0].split("\t").index("source")
        table = corpus / f"speech_{SOURCE}.tsv"  # beside the corpus: its audio paths are relative to it
        kept = [lines[0], *(line for line in lines[1:] if line.split("\t")[source] == SOURCE)]
        table.write_text("\n".join(kept) + "\n", encoding="utf-8")
        cmkt(
            "prep", "--speech", str(table), "--noise", str(corpus / "noise"), "-o", str(data), "--snr-range", "-5", "20"
        )
    return data


def paired_report(
    scores_csv: Path, systems: list[str], seeds: list[int], reference: str = "baseline", plot: Path | None = None
) -> str:
    """Each system's test means, then each system minus `reference` of the same seed, paired over files, as
    markdown; with `plot`, the differences as a PNG too."""
    by_run = read_scores(scores_csv)
    differences = paired_differences(by_run, systems, seeds, reference)
    if plot is not None:
        from cmkt.evaluation.report import plot_paired_differences

        plot_paired_differences(
            plot, {s: {m: d[:2] for m, d in by.items()} for s, by in differences.items()}, reference
        )
    return absolute_table(by_run, systems, seeds) + "\n" + difference_table(differences, reference)


def read_scores(scores_csv: Path) -> dict[str, dict[str, dict[str, float]]]:
    """run -> metric -> file -> value, failed files left out."""
    by_run: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in csv.DictReader(scores_csv.open(encoding="utf-8")):
        if row.get("error"):
            continue
        for metric in METRICS:
            if row.get(metric):
                by_run[row["system"]][metric][row["file"]] = float(row[metric])
    return by_run


def absolute_table(by_run: dict, systems: list[str], seeds: list[int]) -> str:
    lines = [
        f"Test split, {len(seeds)} seeds. Absolute: mean over seeds of each run's test mean (± sd over seeds).",
        "",
        "| system | " + " | ".join(METRICS) + " |",
        "|---" * (len(METRICS) + 1) + "|",
    ]
    for system in ["noisy", *systems]:
        cells = []
        for metric in METRICS:
            runs = ["noisy"] if system == "noisy" else [f"{system}_s{seed}" for seed in seeds]
            means = [statistics.fmean(by_run[r][metric].values()) for r in runs if by_run[r][metric]]
            sd = statistics.stdev(means) if len(means) > 1 else 0.0
            cells.append(f"{statistics.fmean(means):.3f} ± {sd:.3f}" if means else "-")
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_differences(
    by_run: dict, systems: list[str], seeds: list[int], reference: str
) -> dict[str, dict[str, tuple]]:
    """system -> metric -> (interval over seeds, per-seed paired means, the over-files PairedDifference): each
    system minus `reference` of the same seed, on the files both scored."""
    from cmkt.evaluation.stats import mean_ci, paired_difference

    differences: dict[str, dict[str, tuple]] = {}
    for system in (s for s in systems if s != reference):
        differences[system] = {}
        for metric in METRICS:
            per_seed, per_file = [], defaultdict(list)
            for seed in seeds:
                ours, theirs = by_run[f"{system}_s{seed}"][metric], by_run[f"{reference}_s{seed}"][metric]
                shared = [k for k in ours if k in theirs]
                if shared:
                    per_seed.append(statistics.fmean(ours[k] - theirs[k] for k in shared))
                for k in shared:
                    per_file[k].append(ours[k] - theirs[k])
            averaged = {k: statistics.fmean(v) for k, v in per_file.items()}
            pooled = paired_difference(averaged, dict.fromkeys(averaged, 0.0))
            differences[system][metric] = (mean_ci(per_seed), per_seed, pooled)
    return differences


def difference_table(differences: dict[str, dict[str, tuple]], reference: str) -> str:
    lines = [
        f"Minus {reference} of the same seed. Over seeds: mean of the per-seed paired means, 95% t-interval over "
        "seeds (the decision's measure). Over files: each file's difference averaged over seeds, 95% t-interval "
        "over files and Wilcoxon p.",
        "",
        "| system | metric | over seeds | per seed | over files | p |",
        "|---|---|---|---|---|---|",
    ]
    for system, by_metric in differences.items():
        for metric, (over_seeds, per_seed, pooled) in by_metric.items():
            lines.append(
                f"| {system} | {metric} | {over_seeds.text()} | {', '.join(f'{d:+.3f}' for d in per_seed)} | "
                f"{pooled.difference.text()} | {pooled.p_value:.2g} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
