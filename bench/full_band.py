"""Full-band output (issue 27): what the band above 8 kHz gains when a 48 kHz recording is enhanced.

Usage: python bench/full_band.py [--corpus ~/.cache/cmkt/open_corpus] [--split valid|test]
           [--out runs/full_band] [--limit 120] [--settings floor_db=-30 ...] [--dnsmos 40]
           [--model cmkt-base-16k]

Mixtures: the open corpus's full-band speech (KLettres and KTuberling recordings at 44.1/48 kHz
with at least 1e-4 of their energy above 8 kHz, round-robin over the split's voices) mixed at 48 kHz
with its full-band noise (source files at 44.1/48 kHz with at least 1e-3 of their energy above
8 kHz) of the same split, at -5..15 dB on active speech (seed 27). Tune on --split valid; test
scores a choice fixed before it is run.

Systems (each at 48 kHz on one thread, resampling untimed): the noisy input, cmkt with `--band low`
(the model's output resampled up: nothing above 8 kHz), cmkt full band (one per --settings variant),
DeepFilterNet3 (a 48 kHz model) and RNNoise (48 kHz). Per file: the high band's SNR against the
clean high band (its improvement over the noisy input), the high band's log-spectral distance on
the clean file's active frames, PESQ-WB at 16 kHz, and on the first --dnsmos files DNSMOS OVRL at
16 kHz. Prints the table and the paired differences; writes report.md, scores.csv and PNGs.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]
from peers import deepfilternet3, rnnoise  # noqa: E402
from recipes.open_corpus.sources import SOURCES  # noqa: E402

from cmkt.audio import read_audio, resample, write_audio  # noqa: E402
from cmkt.data.mixing import mix_at_snr, pick_one  # noqa: E402
from cmkt.evaluation.metrics import dnsmos_available, dnsmos_scores, pesq_score  # noqa: E402
from cmkt.evaluation.report import plot_spectrograms  # noqa: E402
from cmkt.evaluation.stats import mean_ci, paired_difference  # noqa: E402
from cmkt.inference.high_band import HighBandSettings  # noqa: E402
from cmkt.inference.enhancer import enhance_array, load_enhancer  # noqa: E402
from cmkt.util.atomic_files import atomic_path, write_text_atomic  # noqa: E402

RATE = 48000
SPLIT_HZ = 8000.0
SPEECH_SOURCES = ("klettres", "ktuberling")
MIN_SPEECH_SHARE, MIN_NOISE_SHARE = 1e-4, 1e-3  # energy share above 8 kHz that makes a file full-band


def high_band(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """The part of `samples` above 8 kHz (FFT bins below it zeroed): the band the issue is about."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / rate) < SPLIT_HZ] = 0
    return np.fft.irfft(spectrum, len(samples))


def high_band_share(samples: np.ndarray, rate: int) -> float:
    power = np.abs(np.fft.rfft(samples)) ** 2
    return float(power[np.fft.rfftfreq(len(samples), 1 / rate) >= SPLIT_HZ].sum() / max(power.sum(), 1e-20))


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """(samples, rate) of a file down-mixed, read with cmkt's own checks."""
    audio = read_audio(path, mono=True)
    return audio.samples[0], audio.sample_rate


def source_files(corpus: Path, names: tuple[str, ...]) -> list:
    """The files (SourceFile, at their own rate) of the named open-corpus sources, as the build lists them."""
    found = []
    for source in SOURCES:
        if source.name in names:
            found += source.read(corpus / "extracted" / source.origin.partition(":")[2].replace("/", "+")).files
    return found


def full_band_speech(corpus: Path, split: str, limit: int) -> list[tuple[str, Path]]:
    """Round-robin over the split's voices, in id order, of the files that pass the full-band rule."""
    files = {f"{f.source}__{f.name.replace('/', '__')}": f.path for f in source_files(corpus, SPEECH_SOURCES)}
    by_voice: dict[str, list[tuple[str, Path]]] = {}
    with open(corpus / "speech.tsv", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["split"] != split or row["source"] not in SPEECH_SOURCES:
                continue
            path = files.get(row["id"])
            if path is None or sf.info(path).samplerate < 44100:
                continue
            samples, rate = read_mono(path)
            if len(samples) >= rate and high_band_share(samples, rate) >= MIN_SPEECH_SHARE:
                by_voice.setdefault(row["speaker"], []).append((row["id"], path))
    chosen, queues = [], [sorted(v) for _, v in sorted(by_voice.items())]
    while len(chosen) < limit and any(queues):
        chosen.extend(queue.pop(0) for queue in queues if queue and len(chosen) < limit)
    return chosen


def full_band_noise(corpus: Path, split: str) -> list[Path]:
    with open(corpus / "noise.tsv", newline="") as handle:
        wanted = [row["recording"] for row in csv.DictReader(handle, delimiter="\t") if row["split"] == split]
    sources = tuple(sorted({name.split("/")[0] for name in wanted}))
    files = {f"{f.source}/{f.name}": f.path for f in source_files(corpus, sources)}
    chosen = []
    for name in wanted:
        path = files.get(name)
        if path is None or sf.info(path).samplerate < 44100:
            continue
        samples, rate = read_mono(path)
        if rate * 2 <= len(samples) and high_band_share(samples, rate) >= MIN_NOISE_SHARE:
            chosen.append(path)
    return chosen


def build_mixtures(corpus: Path, split: str, limit: int, folder: Path) -> list[str]:
    """clean/ and noisy/ 48 kHz files (kept: a rerun reuses them); returns the file names."""
    speech, noises = full_band_speech(corpus, split, limit), full_band_noise(corpus, split)
    print(f"{split}: {len(speech)} full-band utterances, {len(noises)} full-band noise recordings")
    rng, names, loaded = np.random.default_rng(27), [], {}
    for utterance, path in speech:
        noise_path, snr = pick_one(noises, rng), float(rng.uniform(-5, 15))
        name = f"{utterance}.wav"
        names.append(name)
        if (folder / "noisy" / name).is_file():
            continue
        samples, rate = read_mono(path)
        if noise_path not in loaded:
            noise, noise_rate = read_mono(noise_path)
            loaded[noise_path] = resample(noise[None], noise_rate, RATE)[0]
        clean, noisy = mix_at_snr(resample(samples[None], rate, RATE)[0], loaded[noise_path], snr, RATE, rng)
        for kind, signal in (("clean", clean), ("noisy", noisy)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            write_audio(folder / kind / name, signal, RATE, "FLOAT")
    return names


def parse_settings(text: str) -> HighBandSettings:
    """ "floor_db=-30,noise_like_db=12" -> HighBandSettings (the defaults for what is not named; "" -> defaults)."""
    pairs = [item.split("=", 1) for item in text.split(",") if item]
    return HighBandSettings(**{key: float(value) for key, value in pairs})


def systems(model: str, variants: list[str]) -> list[tuple[str, object]]:
    """(name, mono 48 kHz in -> out) for every system compared; one full-band cmkt per settings variant."""
    low = load_enhancer(model, band="low")
    found = [("noisy", lambda x: x), ("cmkt low band", lambda x: enhance_array(low, x, RATE))]
    for variant in variants:
        full = load_enhancer(model, band="full", high_band=parse_settings(variant))
        label = f"cmkt full band ({variant})" if variant else "cmkt full band"
        found.append((label, lambda x, e=full: enhance_array(e, x, RATE)))
    for make in (deepfilternet3, rnnoise):
        peer = make()
        found.append((peer.name, peer.run))
    return found


def run_all(names: list[str], folder: Path, chosen: list[tuple[str, object]]) -> dict[str, float]:
    """Enhance every noisy file with every system (outputs kept in folder/NAME/); returns the RTFs,
    timed in this run, interleaved file by file so that every system meets the same machine load."""
    compute = {name: 0.0 for name, _ in chosen}
    seconds = 0.0
    for file in names:
        noisy = read_mono(folder / "noisy" / file)[0]
        seconds += len(noisy) / RATE
        for name, process in chosen:
            started = time.perf_counter()
            out = np.asarray(process(noisy), dtype=np.float32)
            compute[name] += time.perf_counter() - started
            write_audio(folder / _slug(name) / file, out[: len(noisy)], RATE, "FLOAT")
    return {name: total / seconds for name, total in compute.items()}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def log_spectral_distance(clean: np.ndarray, estimate: np.ndarray) -> float:
    """dB distance of the high band's power spectra over the clean file's active frames (2048/512 STFT)."""
    from scipy.signal import stft

    freqs, _, ref = stft(clean, RATE, nperseg=2048, noverlap=1536)
    _, _, est = stft(estimate, RATE, nperseg=2048, noverlap=1536)
    ref_power, est_power = np.abs(ref) ** 2, np.abs(est) ** 2
    frame_energy = ref_power.sum(axis=0)
    active = frame_energy >= frame_energy.max() * 1e-4  # within 40 dB of the loudest frame
    band = freqs >= SPLIT_HZ
    diff = 10 * np.log10(ref_power[band][:, active] + 1e-10) - 10 * np.log10(est_power[band][:, active] + 1e-10)
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def score_file(clean: np.ndarray, noisy: np.ndarray, out: np.ndarray, with_dnsmos: bool) -> dict[str, float]:
    clean_high, noisy_high, out_high = high_band(clean), high_band(noisy), high_band(out)

    def band_snr(estimate: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(clean_high**2) / max(np.sum((estimate - clean_high) ** 2), 1e-20)))

    scores = {
        "hb_snr_gain": band_snr(out_high) - band_snr(noisy_high),
        "hb_lsd": log_spectral_distance(clean, out),
        "noisy_hb_snr": band_snr(noisy_high),  # which group the file falls in (see GROUPS)
    }
    try:
        scores["pesq_wb"] = pesq_score(
            resample(clean[None], RATE, 16000)[0], resample(out[None], RATE, 16000)[0], 16000, "wb"
        )
    except Exception as exc:  # pesq's NoUtterancesError on a near-silent output: left out of the mean
        print(f"PESQ skipped: {exc}")
    if with_dnsmos:
        scores["dnsmos_ovrl"] = dnsmos_scores(out, RATE)["dnsmos_ovrl"]
    return scores


METRICS = ("hb_snr_gain", "hb_lsd", "pesq_wb", "dnsmos_ovrl")


def score_all(names: list[str], folder: Path, system_names: list[str], dnsmos: int) -> dict[str, dict[str, dict]]:
    """system -> file -> metric -> value."""
    results: dict[str, dict[str, dict]] = {name: {} for name in system_names}
    for index, file in enumerate(names):
        clean, noisy = read_mono(folder / "clean" / file)[0], read_mono(folder / "noisy" / file)[0]
        for name in system_names:
            out = read_mono(folder / _slug(name) / file)[0]
            results[name][file] = score_file(clean, noisy, out, index < dnsmos)
    return results


GROUPS = {  # the files by what their noisy high band holds: cutting it loses speech only in the first
    "speech-led high band (noisy high-band SNR >= 0 dB)": lambda snr: snr >= 0,
    "noise-led high band (noisy high-band SNR < 0 dB)": lambda snr: snr < 0,
}


def report(results: dict[str, dict[str, dict]], rtf: dict[str, float], reference: str) -> str:
    """Markdown: means with intervals and RTF per system; paired differences of every system to `reference`."""
    lines = ["| system | " + " | ".join(METRICS) + " | RTF |", "|---" * (len(METRICS) + 2) + "|"]
    for name, files in results.items():
        cells = []
        for metric in METRICS:
            estimate = mean_ci([row[metric] for row in files.values() if metric in row])
            cells.append(f"{estimate.mean:.3f} ± {estimate.half_width:.3f}" if estimate.n else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {rtf.get(name, float('nan')):.3f} |")
    lines += ["", f"Paired differences, {reference} minus each (mean ± 95% interval, Wilcoxon p):", ""]
    lines += ["| versus | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, files in results.items():
        if name == reference:
            continue
        cells = []
        for metric in METRICS:
            ours = {f: row[metric] for f, row in results[reference].items() if metric in row}
            theirs = {f: row[metric] for f, row in files.items() if metric in row}
            paired = paired_difference(ours, theirs)
            d = paired.difference
            cells.append(f"{d.mean:+.3f} ± {d.half_width:.3f} (p {paired.p_value:.1e})" if d.n else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def grouped_reports(results: dict[str, dict[str, dict]], rtf: dict[str, float], reference: str) -> str:
    """The report over all files, then over each of GROUPS."""
    noisy_snr = {file: row["noisy_hb_snr"] for file, row in results["noisy"].items()}
    parts = [report(results, rtf, reference)]
    for title, member in GROUPS.items():
        chosen = {f for f, snr in noisy_snr.items() if member(snr)}
        subset = {name: {f: row for f, row in files.items() if f in chosen} for name, files in results.items()}
        parts.append(f"### {title}: {len(chosen)} files\n\n" + report(subset, rtf, reference))
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path.home() / ".cache/cmkt/open_corpus")
    parser.add_argument("--split", default="valid", choices=("valid", "test"))
    parser.add_argument("--out", type=Path, default=Path("runs/full_band"))
    parser.add_argument("--limit", type=int, default=120)
    parser.add_argument(
        "--settings",
        action="append",
        help="a full-band variant as KEY=VALUE,... of HighBandSettings (repeatable; default: the shipped settings)",
    )
    parser.add_argument("--dnsmos", type=int, default=40, help="DNSMOS on the first N files (0: none)")
    parser.add_argument("--model", default="cmkt-base-16k")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = args.out / args.split
    names = build_mixtures(args.corpus, args.split, args.limit, folder)
    chosen = systems(args.model, args.settings or [""])
    rtf = run_all(names, folder, chosen)
    dnsmos = args.dnsmos if dnsmos_available() else 0
    results = score_all(names, folder, [name for name, _ in chosen], dnsmos)
    reference = next(name for name, _ in chosen if name.startswith("cmkt full band"))
    text = grouped_reports(results, rtf, reference)
    header = f"# Full-band output, {args.split} split: {len(names)} files at 48 kHz\n\n"
    write_text_atomic(folder / "report.md", header + text)
    with atomic_path(folder / "scores.csv") as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["system", "file", *METRICS])
        for name, files in results.items():
            for file, row in files.items():
                writer.writerow([name, file, *(row.get(m, "") for m in METRICS)])
    example = names[0]
    plot_spectrograms(
        folder / "spectrograms.png",
        {name: read_mono(folder / _slug(name) / example)[0] for name, _ in chosen}
        | {"clean": read_mono(folder / "clean" / example)[0]},
        RATE,
    )
    print(header + text)


if __name__ == "__main__":
    main()
