"""Real multilingual speech: the Asterisk prompts (en, es, fr, it, ru) with real noise recordings.

Usage: python recipes/asterisk/run.py --data ../shared/data --out runs/asterisk [--steps 2000]

Uses the fixed train/valid/test split of speech/manifest.tsv and the per-recording noise split of
noise/manifest.tsv. Prepares mixtures at -5..20 dB, trains the baseline and CMKT, enhances and
scores the test split per language (`cmkt score --by lang`), then `cmkt compare`.
See README.md for how to rebuild the data from the Debian packages.
"""

from __future__ import annotations

import argparse
import csv
import os
import shlex
import subprocess
import sys
from pathlib import Path

from cmkt.util.atomic_files import write_csv_atomic


def build_inputs(data: Path, out: Path) -> tuple[Path, Path]:
    """A speech table with paths that resolve from its own folder, and noise/{split}/ folders."""
    with (data / "speech" / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    table = out / "speech.tsv"
    write_csv_atomic(
        table,
        ["id", "path", "text", "lang", "speaker", "split"],
        [{**row, "path": str((data / row["path"]).resolve())} for row in rows],
        delimiter="\t",
    )
    with (data / "noise" / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        noises = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in noises:  # the data has train and test noises only: validation reuses the train noises
        for split in ["train", "valid"] if row["split"] == "train" else [row["split"]]:
            link = out / "noise" / split / Path(row["path"]).name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                os.symlink((data / row["path"]).resolve(), link)
    return table, out / "noise"


def cmkt(*args: str) -> None:
    print("\n$ cmkt " + " ".join(shlex.quote(a) for a in args), flush=True)
    subprocess.run([sys.executable, "-m", "cmkt", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/asterisk"))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument(
        "--teacher",
        default="all-MiniLM-L6-v2",
        help="a multilingual sentence-transformers model suits 5 languages better",
    )
    args = parser.parse_args()
    table, noise = build_inputs(args.data, args.out)
    data = args.out / "data"
    cmkt(
        "prep",
        "--speech",
        str(table),
        "--noise",
        str(noise),
        "-o",
        str(data),
        "--snr-range",
        "-5",
        "20",
        "--teacher",
        args.teacher,
    )
    common = ["--train", str(data / "train.jsonl"), "--valid", str(data / "valid.jsonl"), "--steps", str(args.steps)]
    for name, teacher in (("baseline", "none"), ("cmkt", "auto")):
        run = args.out / "runs" / name
        cmkt(
            "train",
            *common,
            "--teacher",
            teacher,
            "-o",
            str(run),
            *(["--resume"] if (run / "checkpoint.pt").is_file() else []),
        )
        cmkt(
            "enhance",
            str(data / "test" / "noisy"),
            "-o",
            str(args.out / "enhanced" / name),
            "--model",
            str(run / "model.pt"),
        )
    cmkt(
        "score",
        "--manifest",
        str(data / "test.jsonl"),
        "--est",
        f"baseline={args.out / 'enhanced' / 'baseline'}",
        "--est",
        f"cmkt={args.out / 'enhanced' / 'cmkt'}",
        "--by",
        "lang,snr",
        "-o",
        str(args.out / "scores"),
    )
    cmkt(
        "compare", str(args.out / "scores"), "--reference", "baseline", "--by", "lang", "-o", str(args.out / "compare")
    )


if __name__ == "__main__":
    main()
