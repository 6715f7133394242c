"""The next default's test: open-test (37 voices and noises no model here has heard) in its three
conditions, every peer and every model, per SNR band and language, with paired intervals.

Usage: python bench/open_test.py [--corpus ~/.cache/cmkt/open_corpus] [--out runs/open_test]
           [--model v1=cmkt-base-16k --model cmkt_v2=RUN/model.pt --model baseline_v2=RUN/model.pt]
           [--post-filter cmkt_pf=0.02] [--new cmkt_v2] [--conditions plain,reverb,telephone] [--limit N]
           [--no-dnsmos | --dnsmos-every K --dnsmos-systems noisy,RNNoise,...] [--split valid] [--peers RNNoise]
           [--digits 4]

`--split valid` runs the same on open-valid (the valid speakers and noises, built the same way):
where inference settings such as `--post-filter` are tuned before open-test scores them.

Conditions (recipes/open_corpus/open_test.py): plain (-5..15 dB), reverb (rooms, dry reference) and
telephone (300-3400 Hz at 8 kHz, mu-law noisy side), the same 400 utterances in each. Every system
runs on one thread on each condition's noisy files at its own rate (resampling untimed), so an
8 kHz call goes through a 16 kHz model as `cmkt enhance` would take it. Scores come from
`cmkt score --manifest --by snr_band,lang`: PESQ-WB (PESQ-NB on telephone, at 8 kHz), STOI,
ESTOI, SI-SDR and DNSMOS SIG/BAK/OVRL. report.md checks the targets of the decision doc
(docs/default_model/2026-12-01_v2_decision.md) for the model named by --new: above the noisy input
on every metric in every condition and SNR band, above RNNoise on PESQ, ESTOI and DNSMOS OVRL per
condition, and its gap to DeepFilterNet3. Every stage resumes: finished outputs are kept.

DNSMOS (about 1.7 s a file here) can be scored on a subset: every K-th utterance of each manifest
(they are ordered by speaker, so the subset spans every voice) and only the named systems. Its
cells then compare those files only, and say how many.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import soundfile as sf  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_model import run_system  # noqa: E402
from peers import all_peers  # noqa: E402

from cmkt.util.atomic_files import write_text_atomic  # noqa: E402
from cmkt.evaluation.report import plot_score_bars  # noqa: E402
from cmkt.evaluation.score import read_scores_csv  # noqa: E402
from cmkt.inference.enhancer import enhance_array, load_enhancer  # noqa: E402
from cmkt.evaluation.stats import paired_difference  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONDITIONS = ("plain", "reverb", "telephone")
DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")


def condition_metrics(condition: str, dnsmos: bool) -> list[str]:
    pesq = "pesq_nb" if condition == "telephone" else "pesq_wb"
    return [pesq, "stoi", "estoi", "si_sdr", *(DNSMOS if dnsmos else ())]


def score(manifest: Path, estimates: list[str], metrics: list[str], out: Path, noisy: bool = True) -> list[dict]:
    """`cmkt score --manifest` (its cache keeps what was scored before), read back as rows."""
    command = [sys.executable, "-m", "cmkt", "score", "--manifest", str(manifest), *estimates]
    command += ["--metrics", ",".join(metrics), "--by", "snr_band,lang", "-o", str(out)]
    subprocess.run(command + ([] if noisy else ["--no-noisy"]), check=True)
    return read_rows(out / "scores.csv")


def est_args(names: list[str], enhanced: Path) -> list[str]:
    """`--est NAME=FOLDER` for each system, its outputs under `enhanced`."""
    return [arg for name in names for arg in ("--est", f"{name}={enhanced / name}")]


def join_columns(rows: list[dict], extra: list[dict], columns: tuple[str, ...]) -> list[dict]:
    """Each row with `columns` from the row of `extra` for the same system and file, where there is one."""
    found = {(r["system"], r["file"]): r for r in extra}
    joined = []
    for row in rows:
        match = found.get((row["system"], row["file"]), {})
        joined.append({**row, **{c: match.get(c, "") for c in columns}})
    return joined


def absolute_manifest(manifest: Path, lines: list[str], path: Path) -> Path:
    """Some of a manifest's lines, their paths made absolute, written beside the outputs."""
    base = manifest.parent
    records = [{**r, "clean": str(base / r["clean"]), "noisy": str(base / r["noisy"])} for r in map(json.loads, lines)]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))
    return path


def read_rows(scores_csv: Path) -> list[dict]:
    return [r for r in csv.DictReader(scores_csv.open(encoding="utf-8")) if not r.get("error")]


def per_file(rows: list[dict], system: str, metric: str, band: str | None = None) -> dict[str, float]:
    return {
        r["file"]: float(r[metric])
        for r in rows
        if r["system"] == system and r.get(metric) not in ("", None) and band in (None, r["snr_band"])
    }


def difference_cell(
    rows: list[dict], a: str, b: str, metric: str, band: str | None = None, digits: int = 3
) -> tuple[str, bool, bool]:
    """'+0.123 ± 0.020 (p=...)', whether a is significantly above b, and whether significantly below."""
    result = paired_difference(per_file(rows, a, metric, band), per_file(rows, b, metric, band))
    d = result.difference
    if d.n == 0:
        return "-", False, False
    above = d.n > 1 and d.mean > 0 and result.p_value < 0.05
    below = d.n > 1 and d.mean < 0 and result.p_value < 0.05
    return f"{d.mean:+.{digits}f} ± {d.half_width:.{digits}f} (p={result.p_value:.2g})", above, below


def versus_table(rows: list[dict], new: str, metrics: list[str], digits: int = 3) -> list[str]:
    """Markdown rows of `new` minus noisy and every other system, all SNRs; bold where significantly above."""
    lines = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for other in ["noisy", *sorted({r["system"] for r in rows} - {new, "noisy"})]:
        cells = []
        for metric in metrics:
            text, above, _ = difference_cell(rows, new, other, metric, digits=digits)
            cells.append(f"**{text}**" if above else text)
        lines.append(f"| {other} | " + " | ".join(cells) + " |")
    return lines


def condition_report(condition: str, rows: list[dict], new: str, metrics: list[str], digits: int = 3) -> list[str]:
    """The new model against the noisy input per SNR band, and against each system overall."""
    bands = sorted({r["snr_band"] for r in rows if r["snr_band"]}, key=lambda b: float(b.split("..")[0]))
    lines = [
        f"## {condition}",
        "",
        f"### {new} − noisy, per SNR band (never significantly below: the target)",
        "",
        "| metric | " + " | ".join(f"{b} dB" for b in bands) + " | never below |",
        "|---" * (len(bands) + 2) + "|",
    ]
    for metric in metrics:
        cells, ok = [], True
        for band in bands:
            text, _, below = difference_cell(rows, new, "noisy", metric, band, digits)
            cells.append(text)
            ok &= not below
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {'yes' if ok else '**no**'} |")
    lines += ["", f"### {new} − each system, all SNRs", "", *versus_table(rows, new, metrics, digits)]
    return lines + [""]


def overall_report(rows_by_condition: dict[str, list[dict]], new: str, dnsmos: bool, digits: int = 3) -> list[str]:
    """The new model against each system over every condition's files together (the decision rule's "overall"):
    PESQ is each condition's own (WB, or NB on telephone), so a file's PESQ column depends on its condition."""
    pooled = []
    for condition, rows in rows_by_condition.items():
        pesq = condition_metrics(condition, False)[0]
        pooled += [{**r, "file": f"{condition}/{r['file']}", "pesq": r.get(pesq, "")} for r in rows]
    files = len(pooled) // len({r["system"] for r in pooled})
    return [
        f"## All conditions together: {new} − each system ({files} files)",
        "",
        "PESQ is PESQ-WB on plain and reverb, PESQ-NB on telephone. **Bold**: significantly above (p < 0.05).",
        "",
        *versus_table(pooled, new, ["pesq", "stoi", "estoi", "si_sdr", *(DNSMOS[::-1] if dnsmos else ())], digits),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path.home() / ".cache" / "cmkt" / "open_corpus")
    parser.add_argument("--out", type=Path, help="default: runs/open_test (runs/open_valid with --split valid)")
    parser.add_argument("--split", choices=("test", "valid"), default="test", help="open-test, or open-valid to tune")
    parser.add_argument(
        "--model", action="append", default=[], help="NAME=PATH or installed name; repeat (default: v1=cmkt-base-16k)"
    )
    parser.add_argument(
        "--post-filter",
        action="append",
        default=[],
        help="NAME=BETA: one more system, the last --model with its post-filter at BETA (0: off; cmkt enhance "
        "--post-filter); a --model alone runs with its checkpoint's own setting",
    )
    parser.add_argument("--peers", help="comma list of peers to run (default: every installed one; '' for none)")
    parser.add_argument(
        "--new", default="", help="the candidate the targets are checked for (default: the last --model)"
    )
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N utterances of each condition (a check of the set-up)"
    )
    parser.add_argument("--no-dnsmos", action="store_true", help="leave DNSMOS out (most of the scoring time)")
    parser.add_argument("--dnsmos-every", type=int, default=1, help="DNSMOS on every K-th utterance only")
    parser.add_argument("--dnsmos-systems", default="", help="DNSMOS for these systems only (comma list; noisy too)")
    parser.add_argument(
        "--digits", type=int, default=3, help="decimals of the differences (4 to compare a model with its next stage)"
    )
    args = parser.parse_args()
    args.out = args.out or REPO / "runs" / f"open_{args.split}"
    torch.set_num_threads(1)
    models = [  # a --model runs with its checkpoint's own post-filter (None); a --post-filter with the one named
        (*spec.split("=", 1), None) if "=" in spec else (Path(spec).stem, spec, None)
        for spec in (args.model or ["v1=cmkt-base-16k"])
    ]
    for spec in args.post_filter:
        name, beta = spec.split("=", 1)
        models.append((name, models[-1][1], float(beta)))
    new = args.new or models[-1][0]
    peers = all_peers()
    if args.peers is not None:
        peers = [peer for peer in peers if peer.name in set(filter(None, args.peers.split(",")))]
    systems = [(peer.name, peer.run, peer.sample_rate) for peer in peers]
    for name, path, beta in models:
        enhancer = load_enhancer(path, threads=1, post_filter=beta)
        systems.append((name, lambda x, e=enhancer: enhance_array(e, x, e.sample_rate), enhancer.sample_rate))
    report, rtf, rows_by_condition = [f"# open-{args.split}: {new} against every system", ""], {}, {}
    if not args.no_dnsmos and (args.dnsmos_every > 1 or args.dnsmos_systems):
        report += [
            f"DNSMOS: every {args.dnsmos_every}th utterance of each condition, for "
            f"{args.dnsmos_systems or 'every system'}; its cells compare those files only.",
            "",
        ]
    for condition in args.conditions.split(","):
        manifest = args.corpus / f"open_{args.split}" / condition / f"{args.split}.jsonl"
        lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()][
            : args.limit or None
        ]
        work = args.out / condition
        full_manifest = manifest
        if args.limit:
            manifest = absolute_manifest(full_manifest, lines, work / f"{args.split}.first{args.limit}.jsonl")
        noisy_files = [full_manifest.parent / json.loads(line)["noisy"] for line in lines]
        names = []
        for name, process, rate in systems:
            if not all((work / "enhanced" / name / p.name).is_file() for p in noisy_files):
                rtf.setdefault(name, {})[condition] = run_system(name, process, rate, noisy_files, work / "enhanced")
                print(f"{condition} {name}: RTF {rtf[name][condition]:.4f}", flush=True)
            names.append(name)
        rows = score(manifest, est_args(names, work / "enhanced"), condition_metrics(condition, False), work / "scores")
        metrics = condition_metrics(condition, not args.no_dnsmos)
        if not args.no_dnsmos:
            chosen = set(filter(None, args.dnsmos_systems.split(","))) or {*names, "noisy"}
            subset = absolute_manifest(full_manifest, lines[:: args.dnsmos_every], work / "dnsmos_subset.jsonl")
            dnsmos_estimates = est_args([name for name in names if name in chosen], work / "enhanced")
            dnsmos_rows = score(subset, dnsmos_estimates, list(DNSMOS), work / "scores_dnsmos", "noisy" in chosen)
            rows = join_columns(rows, dnsmos_rows, DNSMOS)
        rows_by_condition[condition] = rows
        report += condition_report(condition, rows, new, metrics, args.digits)
        results, _ = read_scores_csv(work / "scores" / "scores.csv")
        plot_score_bars(work / "by_snr_band.png", results, tuple(metrics[:3]), "snr_band")
        rate = sf.info(str(noisy_files[0])).samplerate
        print(
            f"{condition}: {len(noisy_files)} utterances at {rate} Hz scored -> {work / 'scores' / 'summary.md'}",
            flush=True,
        )
    if len(rows_by_condition) > 1:
        report += overall_report(rows_by_condition, new, not args.no_dnsmos, args.digits)
    if rtf:
        report += [
            "## Real-time factor (1 thread; this run's conditions)",
            "",
            "| system | " + " | ".join(args.conditions.split(",")) + " |",
            "|---" * (len(args.conditions.split(",")) + 1) + "|",
        ]
        report += [
            f"| {name} | " + " | ".join(f"{v.get(c, float('nan')):.4f}" for c in args.conditions.split(",")) + " |"
            for name, v in rtf.items()
        ]
    write_text_atomic(args.out / "report.md", "\n".join(report) + "\n")
    print("\n".join(report))
    print(f"\nreport: {args.out / 'report.md'}")


if __name__ == "__main__":
    main()
