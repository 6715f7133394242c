"""Tune CMKT's defaults on the VALID split only: alpha, shift size and probability, tau for uot, the tap.

One factor at a time around the shipped defaults (attention bridge, alpha 0.9, 100 ms shifts with
p 0.5), each setting trained for the same steps with the same seeds on the shared train split
(the ablation's prepared data: dynamic mixing, cosine decay). The score of a run is its best
validation PESQ-WB and that validation's STOI on `--valid-items` utterances of the valid split;
the test split is never touched. Prints mean ± standard deviation over seeds per setting and
writes OUT/report.md.

Usage: python bench/tune_defaults.py [--steps 600] [--seeds 0 1] [--parallel 2] [--threads 0] [--valid-items 32]
           [--factors alpha shift_ms shift_prob ot_tau] [--values 0.7 0.97 ...]
Every stage resumes: rerun the same command after an interruption.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation import REPO, prepared_data, steps_done, train_command  # noqa: E402

DEFAULTS = {"alpha": "0.9", "shift_ms": "100", "shift_prob": "0.5", "ot_tau": "1.0", "tap": "gru"}
GRID = {  # the values tried for each factor, the default among them
    "alpha": ["0.7", "0.8", "0.9", "0.97"],
    "shift_ms": ["0", "50", "100", "200"],
    "shift_prob": ["0.25", "0.5", "1.0"],
    "ot_tau": ["0.3", "1.0", "3.0"],  # trained with --align uot: tau only exists there
    "tap": ["gru", "encoder"],  # the default backbone's layer the bridge reads (--model-config)
}


def settings(factors: list[str], values: list[str] | None = None) -> dict[str, list[str]]:
    """Run name -> the `cmkt train` options of that setting; each bridge's default set-up appears once."""
    found = {}
    for factor in factors:
        for value in [v for v in GRID[factor] if values is None or v in values or v == DEFAULTS[factor]]:
            align = "uot" if factor == "ot_tau" else "attention"
            chosen = {**DEFAULTS, factor: value}
            name = (
                align if value == DEFAULTS[factor] else f"{align}_{factor}{value}"
            )  # defaults: named as in the ablation
            options = [
                "--align",
                align,
                "--alpha",
                chosen["alpha"],
                "--shift-ms",
                chosen["shift_ms"],
                "--shift-prob",
                chosen["shift_prob"],
            ]
            found[name] = (
                options
                + (["--ot-tau", chosen["ot_tau"]] if align == "uot" else [])
                + (["--model-config", json.dumps({"tap": chosen["tap"]})] if chosen["tap"] != DEFAULTS["tap"] else [])
            )
    return found


def best_validation(run: Path) -> tuple[float, float]:
    """(best val PESQ-WB, the val STOI of that validation) from the run's log."""
    rows = [r for r in csv.DictReader((run / "train_log.csv").open(encoding="utf-8")) if r.get("val_pesq_wb")]
    best = max(rows, key=lambda r: float(r["val_pesq_wb"]))
    return float(best["val_pesq_wb"]), float(best["val_stoi"])


def report(out: Path, names: list[str], seeds: list[int]) -> str:
    lines = [
        f"Best validation PESQ-WB and its STOI on the valid split, mean ± sd over seeds {', '.join(map(str, seeds))}",
        "",
        "| setting | val PESQ-WB | val STOI |",
        "|---|---|---|",
    ]
    for name in names:
        scores = [best_validation(out / "runs" / f"{name}_s{seed}") for seed in seeds]
        cells = []
        for column in (0, 1):
            values = [s[column] for s in scores]
            cells.append(f"{statistics.fmean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "runs" / "ablation",
        help="the ablation's folder by default: its attention and uot runs are the default settings",
    )
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument(
        "--values", nargs="*", default=None, help="only these values of the factors (e.g. 0.7 0.97 0 200)"
    )
    parser.add_argument("--factors", nargs="+", default=list(GRID), choices=list(GRID))
    parser.add_argument(
        "--valid-items", type=int, default=32, help="as the ablation, whose default runs are then reused"
    )
    parser.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per run (0: cores / parallel)")
    args = parser.parse_args()
    from recipes.cmkt_base.run import run_all

    started = time.perf_counter()
    data = prepared_data(args.data, args.out)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.parallel)
    grid = settings(args.factors, args.values)
    commands = {}
    for seed in args.seeds:
        for name, options in grid.items():
            run = args.out / "runs" / f"{name}_s{seed}"
            if not ((run / "model.pt").is_file() and steps_done(run) >= args.steps):
                commands[run.name] = train_command(
                    data, run, args.steps, seed, threads, *options, valid_items=args.valid_items
                )
    run_all(commands, args.parallel, args.out / "logs")
    text = report(args.out, list(grid), args.seeds)
    (args.out / "report.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    print(f"\ntuning finished in {(time.perf_counter() - started) / 60:.1f} min; report: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
