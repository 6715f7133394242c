"""Where the shipped model stands: noisy, noisereduce, RNNoise, DeepFilterNet3, our baseline and CMKT
on the test split of the shared multilingual data, per language, per SNR and per noise, with intervals.

Usage: python bench/default_model.py [--data ../shared/data] [--out runs/benchmark] [--every-snr]
           [--runs runs/cmkt_base/runs] [--model cmkt-base-16k] [--dry-shares 0.1 0.25] [--post-filters 0.1]
           [--mix-seed N]
           [--metrics pesq_wb,stoi,estoi,si_sdr,dnsmos_ovrl]

Test set: the speech test split (256 utterances, 5 languages) mixed with the three test-split noise
recordings, each utterance at one of -5, 0, 5, 10 dB (drawn with seed 0, measured on active
speech). With --every-snr each utterance is mixed at all four SNRs instead (1,024 mixtures, seed 1:
four times the files per SNR, for paired tests with more power). Every system runs on one thread;
its real-time factor is its compute time over the audio's duration (peers are resampled to their own
rate outside the timed part). Scores come from `cmkt score --manifest` (PESQ-WB, STOI, ESTOI,
SI-SDR, DNSMOS OVRL) and `cmkt compare`;
the CMKT-vs-baseline gain is taken per seed (runs NAME_sK in --runs) and summarised over seeds.
Every stage resumes: finished outputs are kept.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import all_peers  # noqa: E402

from cmkt.audio import resample, write_audio  # noqa: E402
from cmkt.errors import CmktError  # noqa: E402
from cmkt.util.atomic_files import write_text_atomic  # noqa: E402
from cmkt.inference.enhancer import enhance_array, load_enhancer  # noqa: E402
from cmkt.evaluation.stats import mean_ci, paired_difference  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
METRICS = "pesq_wb,stoi,estoi,si_sdr,dnsmos_ovrl"
SNRS = ("-5", "0", "5", "10")


def cmkt(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cmkt", *args], check=True)


def build_test_set(data: Path, out: Path, every_snr: bool = False, seed: int | None = None) -> Path:
    """The speech test split and the test-split noises, mixed once with a fixed seed; returns test.jsonl.

    every_snr: each utterance at every SNR (one prep per SNR, files renamed ID_snrX so the systems'
    outputs do not collide) rather than at one drawn SNR. seed: the mixing seed (default 0, or 1 with
    every_snr); another seed draws other noise segments, a set no decision has looked at yet."""
    manifest = out / "data" / "test.jsonl"
    if manifest.is_file():
        return manifest
    seed = (1 if every_snr else 0) if seed is None else seed
    with (data / "speech" / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == "test"]
    from cmkt.util.atomic_files import write_csv_atomic

    table = out / "test_speech.tsv"
    write_csv_atomic(
        table,
        ["id", "path", "text", "lang", "speaker", "split"],
        [
            {**{k: r[k] for k in ("id", "text", "lang", "speaker", "split")}, "path": str((data / r["path"]).resolve())}
            for r in rows
        ],
        delimiter="\t",
    )
    with (data / "noise" / "manifest.tsv").open(encoding="utf-8", newline="") as handle:
        noises = [r for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if r["split"] == "test"]
    for row in noises:
        link = out / "noise" / Path(row["path"]).name  # flat: only test speech is mixed, only with these
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.symlink((data / row["path"]).resolve(), link)
    if not every_snr:
        mix(table, out / "noise", out / "data", SNRS, seed)
        return manifest
    entries = []
    for snr in SNRS:
        part = mix(table, out / "noise", out / "data_by_snr" / f"snr{snr}", (snr,), seed)
        for line in part.read_text(encoding="utf-8").splitlines():
            utterance = json.loads(line)
            name = f"{utterance['id']}_snr{snr}"
            for kind in ("clean", "noisy"):
                link = manifest.parent / "test" / kind / f"{name}.wav"
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    os.symlink((part.parent / utterance[kind]).resolve(), link)
                utterance[kind] = f"test/{kind}/{name}.wav"
            entries.append(json.dumps({**utterance, "id": name}, ensure_ascii=False))
    write_text_atomic(manifest, "\n".join(entries) + "\n")
    return manifest


def mix(table: Path, noise: Path, out: Path, snrs: tuple[str, ...], seed: int) -> Path:
    """`cmkt prep` of the test speech with the test noises at these SNRs; returns its test.jsonl."""
    cmkt(
        "prep",
        "--speech",
        str(table),
        "--noise",
        str(noise),
        "-o",
        str(out),
        "--teacher",
        "none",
        "--seed",
        str(seed),
        *[arg for snr in snrs for arg in ("--snr", snr)],
    )
    return out / "test.jsonl"


def run_system(name: str, process, rate: int, noisy_files: list[Path], folder: Path) -> float:
    """Enhance every noisy file with `process` (mono float32 at `rate` in and out); returns the RTF."""
    compute, audio_seconds = 0.0, 0.0
    for path in noisy_files:
        target = folder / name / path.name
        noisy, source_rate = sf.read(path, dtype="float32")
        native = resample(noisy[None], source_rate, rate)[0]
        started = time.perf_counter()
        enhanced = process(native)
        compute += time.perf_counter() - started
        audio_seconds += len(noisy) / source_rate
        target.parent.mkdir(parents=True, exist_ok=True)
        write_audio(
            target, resample(np.asarray(enhanced, dtype=np.float32)[None], rate, source_rate)[0], source_rate, "FLOAT"
        )
    return compute / audio_seconds


def systems(args) -> tuple[list[tuple[str, object, int, str]], str]:
    """(name, process, rate, source) for every peer and every model (the shipped one and the seed runs),
    and the shipped model's name among them: its own, or that of the seed run it is a copy of.

    `source` is the model file's digest ("" for a peer): a retrained model under an old name is run again."""
    from cmkt.registry import resolve_model

    found = [(peer.name, peer.run, peer.sample_rate, "") for peer in all_peers()]
    models = {}
    if args.runs.is_dir():
        models = {
            run.name: str(run / "model.pt") for run in sorted(args.runs.iterdir()) if (run / "model.pt").is_file()
        }
    shipped = Path(args.model).stem  # a path's stem: names are folders
    try:
        twin = next((name for name, path in models.items() if same_weights(args.model, path)), None)  # usually cmkt_s0
        if twin is None:
            models = {shipped: args.model, **models}
        shipped = twin or shipped
    except CmktError as exc:
        print(f"skipping the shipped model: {exc}")
    variants = [(name, model, 0.0, None) for name, model in models.items()]  # None: the checkpoint's post-filter
    variants += [(f"{Path(args.model).stem}+dry{share:g}", args.model, share, None) for share in args.dry_shares]
    variants += [(f"{Path(args.model).stem}+pf{beta:g}", args.model, 0.0, beta) for beta in args.post_filters]
    for name, model, share, beta in variants:
        enhancer = load_enhancer(model, threads=1, dry=share, post_filter=beta)
        digest = (
            hashlib.sha256(Path(resolve_model(model)).read_bytes()).hexdigest()[:16]
            + (f"+dry{share:g}" if share else "")
            + (f"+pf{beta:g}" if beta else "")
        )
        found.append((name, lambda x, e=enhancer: enhance_array(e, x, e.sample_rate), enhancer.sample_rate, digest))
    return found, shipped


def same_weights(model: str, path: str) -> bool:
    from cmkt.registry import read_checkpoint, resolve_model

    a, b = read_checkpoint(resolve_model(model))["state_dict"], read_checkpoint(path)["state_dict"]
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def seed_gains(scores_csv: Path, metrics: list[str]) -> str:
    """CMKT minus baseline per seed (mean over files), then mean ± 95% t-interval over seeds, per language."""
    rows = [r for r in csv.DictReader(scores_csv.open(encoding="utf-8")) if not r.get("error")]
    systems = {r["system"] for r in rows}
    seeds = sorted(
        s.split("_s")[1] for s in systems if s.startswith("cmkt_s") and f"baseline_s{s.split('_s')[1]}" in systems
    )
    if not seeds:
        return "No seed has both a CMKT run and a baseline run (cmkt_sK and baseline_sK in --runs): no gain to report."
    languages = ["all", *sorted({r["lang"] for r in rows})]
    lines = [
        f"CMKT - baseline, paired per file, mean over files per seed; mean ± 95% t-interval over {len(seeds)} seeds "
        f"({', '.join(seeds)})",
        "",
        "| language | " + " | ".join(metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for lang in languages:
        cells = []
        for metric in metrics:
            per_seed = []
            for seed in seeds:
                values = {}
                for r in rows:
                    if (
                        r["system"] in (f"cmkt_s{seed}", f"baseline_s{seed}")
                        and r.get(metric) not in ("", None)
                        and lang in ("all", r["lang"])
                    ):
                        values.setdefault(r["file"], {})[r["system"].split("_s")[0]] = float(r[metric])
                diffs = [v["cmkt"] - v["baseline"] for v in values.values() if len(v) == 2]
                if diffs:
                    per_seed.append(float(np.mean(diffs)))
            estimate = mean_ci(per_seed)
            cells.append(f"{estimate.mean:+.3f} ± {estimate.half_width:.3f}" if per_seed else "-")
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per seed, all languages: mean ± 95% t-interval over files (Wilcoxon p)",
        "",
        "| seed | " + " | ".join(metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for seed in seeds:
        cells = []
        for metric in metrics:
            per_system = {
                name: {
                    r["file"]: float(r[metric])
                    for r in rows
                    if r["system"] == f"{name}_s{seed}" and r.get(metric) not in ("", None)
                }
                for name in ("cmkt", "baseline")
            }
            difference = paired_difference(per_system["cmkt"], per_system["baseline"])
            cells.append(
                f"{difference.difference.mean:+.3f} ± {difference.difference.half_width:.3f} "
                f"(p={difference.p_value:.2g})"
            )
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PEERS_WITH_TARGET = ("noisy", "noisereduce", "RNNoise")  # issue 7: better on PESQ and STOI at every SNR
TARGET_METRICS = ("pesq_wb", "stoi")


def targets_by_snr(scores_csv: Path, model: str, metrics: list[str]) -> str:
    """The shipped model minus each peer, paired per file within each SNR, and whether it is better at every SNR.

    "Better at every SNR" (docs/default_model/2026-11-24_every_snr.md): at each SNR the mean difference is
    positive and the Wilcoxon p < 0.05; requiring all four is an intersection-union test, so no correction.
    DeepFilterNet3 and the other models are listed with no rule attached."""
    rows = [r for r in csv.DictReader(scores_csv.open(encoding="utf-8")) if not r.get("error")]
    values: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in rows:
        for metric in metrics:
            if r.get(metric) not in ("", None):
                values.setdefault((r["system"], metric, r["snr"]), {})[r["file"]] = float(r[metric])
    names = sorted({r["system"] for r in rows} - {model}, key=lambda n: (n not in PEERS_WITH_TARGET, n))
    snrs = sorted({r["snr"] for r in rows}, key=float)
    lines = [
        f"{model} minus each system, paired per file within an SNR: mean ± 95% t-interval (Wilcoxon p). "
        "'better at every SNR': mean > 0 and p < 0.05 at each SNR.",
        "",
    ]
    for name in names:
        lines += [
            f"### {model} − {name}",
            "",
            "| metric | " + " | ".join(f"{s} dB" for s in snrs) + " | better at every SNR |",
            "|---" * (len(snrs) + 2) + "|",
        ]
        for metric in metrics:
            cells, better = [], True
            for snr in snrs:
                difference = paired_difference(
                    values.get((model, metric, snr), {}), values.get((name, metric, snr), {})
                )
                estimate = difference.difference
                better &= estimate.n > 1 and estimate.mean > 0 and difference.p_value < 0.05
                cells.append(f"{estimate.mean:+.3f} ± {estimate.half_width:.3f} (p={difference.p_value:.2g})")
            verdict = "yes" if better else "no"
            if name in PEERS_WITH_TARGET and metric in TARGET_METRICS:  # the targets, in bold
                verdict = f"**{verdict}**"
            lines.append(f"| {metric} | " + " | ".join(cells) + f" | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def plot_by_snr(scores_csv: Path, path: Path, metrics: list[str]) -> None:
    """PESQ-WB, STOI and SI-SDR (those scored) per SNR: the input, the peers and our seed-0 models (95% intervals over
    files)."""
    from cmkt.evaluation.report import plot_score_bars
    from cmkt.evaluation.score import read_scores_csv

    results, _ = read_scores_csv(scores_csv)
    shown = [r for r in results if not r.system.endswith(("_s1", "_s2"))]
    plot_score_bars(
        path, shown, tuple(m for m in ("pesq_wb", "stoi", "si_sdr") if m in metrics) or tuple(metrics[:1]), "snr"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "benchmark")
    parser.add_argument(
        "--runs", type=Path, default=REPO / "runs" / "cmkt_base" / "runs", help="seed runs cmkt_sK / baseline_sK"
    )
    parser.add_argument("--model", default="cmkt-base-16k", help="the shipped model (name or path)")
    parser.add_argument(
        "--dry-shares",
        type=float,
        nargs="*",
        default=[],
        help="also run the shipped model with these shares of the input mixed back (enhance --dry)",
    )
    parser.add_argument(
        "--post-filters",
        type=float,
        nargs="*",
        default=[],
        help="also run the shipped model with these post-filter strengths (enhance --post-filter)",
    )
    parser.add_argument(
        "--every-snr", action="store_true", help="mix each test utterance at every SNR (4x the files; use a new --out)"
    )
    parser.add_argument(
        "--mix-seed",
        type=int,
        default=None,
        help="seed of the mixing (default 0, or 1 with --every-snr): a new seed is a fresh draw (use a new --out)",
    )
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N test files (a quick check of the set-up)"
    )
    parser.add_argument(
        "--metrics",
        default=METRICS,
        help="metrics to score (DNSMOS is most of the scoring time: leave it out for a quick comparison)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    manifest = build_test_set(args.data.resolve(), args.out, args.every_snr, args.mix_seed)
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()][: args.limit or None]
    noisy_files = [manifest.parent / json.loads(line)["noisy"] for line in lines]
    if args.limit:  # score only those files: a manifest of the first N, beside the full one
        manifest = manifest.parent / f"test.first{args.limit}.jsonl"
        write_text_atomic(manifest, "\n".join(lines) + "\n")
    rtf_lines = ["| system | RTF (1 thread) |", "|---|---|"]
    estimates = []
    timings = args.out / "rtf.json"  # a rerun (e.g. after another seed's run finished) only runs the new systems
    known = json.loads(timings.read_text()) if timings.is_file() and not args.limit else {}
    found, shipped = systems(args)
    for name, process, rate, source in found:
        done = all((args.out / "enhanced" / name / path.name).is_file() for path in noisy_files)
        entry = known.get(name, {})
        entry = {"rtf": entry, "source": ""} if isinstance(entry, float) else entry  # rtf.json of before the digests
        if done and entry.get("source") == source:
            rtf = entry["rtf"]
        else:
            rtf = run_system(name, process, rate, noisy_files, args.out / "enhanced")
        known[name] = {"rtf": rtf, "source": source}
        if not args.limit:
            write_text_atomic(timings, json.dumps(known, indent=1))
        rtf_lines.append(f"| {name} | {rtf:.4f} |")
        print(f"{name}: RTF {rtf:.4f}", flush=True)
        estimates += ["--est", f"{name}={args.out / 'enhanced' / name}"]
    cmkt(
        "score",
        "--manifest",
        str(manifest),
        *estimates,
        "--metrics",
        args.metrics,
        "--by",
        "lang,snr,noise",
        "-o",
        str(args.out / "scores"),
    )
    reference = "baseline_s0" if any("baseline_s0=" in e for e in estimates) else "noisy"
    cmkt(
        "compare",
        str(args.out / "scores"),
        "--reference",
        reference,
        "--by",
        "lang,snr,noise",
        "-o",
        str(args.out / "compare"),
    )
    scores_csv = args.out / "scores" / "scores.csv"
    plot_by_snr(scores_csv, args.out / "by_snr.png", args.metrics.split(","))
    report = "\n\n".join(
        [
            "## Real-time factor",
            "\n".join(rtf_lines),
            "## CMKT vs baseline over seeds",
            seed_gains(scores_csv, args.metrics.split(",")),
            "## The shipped model against each system, per SNR",
            targets_by_snr(scores_csv, shipped, args.metrics.split(",")),
        ]
    )
    write_text_atomic(args.out / "report.md", report + "\n")
    print(report)
    print(
        f"\nscores: {args.out / 'scores' / 'summary.md'}\nplot: {args.out / 'by_snr.png'}\npaired tests: "
        f"{args.out / 'compare' / 'report.md'}\nreport: {args.out / 'report.md'}"
    )


if __name__ == "__main__":
    main()
