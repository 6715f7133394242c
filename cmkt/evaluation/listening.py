"""`cmkt report`: a listening page from `cmkt score`/`compare` outputs, so people hear what the numbers say.

Which files: by default a spread over the groups (a typical file per SNR band, language, ...)
plus each system's best and worst file by its gain over the noisy input; `--files` picks them.
Each file's clips (noisy, every system, the clean reference) are what was scored (the
reference's rate, mono), loudness-matched for listening only, with a spectrogram each on one
colour scale. The page (listening_page.py) links them relatively: the folder opens anywhere.
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cmkt.audio import read_audio, write_audio
from cmkt.errors import CmktError
from cmkt.evaluation.audio_index import read_audio_indexes
from cmkt.evaluation.score import GROUP_COLUMNS

LISTENING_LUFS = -23.0  # EBU R 128's programme level: every clip is played at it
PEAK_CEILING = 0.99  # a louder-than-target clip is turned down, never clipped
SPECTROGRAM_RANGE_DB = 80.0  # the colour scale spans this far below the page's loudest bin
PREFERRED_METRICS = ("pesq_wb", "pesq_nb", "estoi", "stoi", "si_sdr", "dnsmos_ovrl")
CLEAN = "clean"
SILENT_GROUPS = ("split", "snr_band")  # not shown beside a file: one split per page, and its exact SNR is shown


@dataclass
class Clip:
    """One player on the page: a system's version of a file (or the clean reference)."""

    system: str
    audio: str  # relative to the page
    image: str  # relative to the page
    scores: dict[str, float] = field(default_factory=dict)
    gain_db: float = 0.0  # applied for listening only


@dataclass
class FileRow:
    key: str
    groups: dict[str, str]
    why: str  # why this file is on the page
    clips: list[Clip] = field(default_factory=list)


def choose_metric(metrics: tuple[str, ...], asked: str | None) -> str:
    """The metric the best/worst files are chosen by: `asked`, or the first of PESQ, ESTOI, ... scored."""
    if asked:
        if asked not in metrics:
            raise CmktError(f"--metric {asked}: not in these scores; they have {', '.join(metrics)}")
        return asked
    return next((m for m in PREFERRED_METRICS if m in metrics), metrics[0])


def scored_by_all(results, metric: str) -> list[str]:
    """The files every system has a `metric` score for: the only ones a row can show side by side."""
    scored = [set(r.values(metric)) for r in results]
    return sorted(set.intersection(*scored)) if scored else []


def choose_files(results, metric: str, groups: list[str], base: str) -> list[tuple[str, str]]:
    """(file, why), in order of priority: each system's best and worst gain over `base`, then a typical
    file (median gain) per value of each grouping column."""
    by_name = {r.system: r for r in results}
    common = scored_by_all(results, metric)
    if not common:
        raise CmktError(f"no file has a {metric} score from every system; check the runs' failed files")
    rows = {row["file"]: row for row in results[0].ok}
    base_values = by_name[base].values(metric)
    chosen: dict[str, str] = {}
    for result in results:
        if result.system == base:
            continue
        gains = {key: result.values(metric)[key] - base_values[key] for key in common}
        ordered = sorted(common, key=lambda key: (gains[key], key))
        for key, label in ((ordered[-1], "best"), (ordered[0], "worst")):
            reason = f"{label} {metric} gain of {result.system} ({gains[key]:+.2f})"
            chosen[key] = f"{chosen[key]}; {reason}" if key in chosen else reason
    systems = [r for r in results if r.system != base] or results
    mean_gain = {key: np.mean([r.values(metric)[key] - base_values[key] for r in systems]) for key in common}
    for column in groups:
        for value in sorted({rows[key].get(column, "") for key in common if key in rows} - {""}):
            members = sorted((key for key in common if rows.get(key, {}).get(column) == value), key=mean_gain.get)
            typical = members[len(members) // 2]
            chosen.setdefault(typical, f"typical of {column} {value}")
    return list(chosen.items())


def listening_gain(samples: np.ndarray, sample_rate: int) -> float:
    """dB that brings a clip to LISTENING_LUFS (BS.1770, torchaudio), held down so its peak stays under the ceiling."""
    import torch
    import torchaudio.functional as F

    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return 0.0
    padded = np.pad(samples, (0, max(0, int(0.4 * sample_rate) - len(samples))))  # BS.1770 gates in 400 ms blocks
    loudness = float(F.loudness(torch.from_numpy(padded.astype(np.float32))[None], sample_rate))
    gain = LISTENING_LUFS - loudness if math.isfinite(loudness) else 0.0
    return min(gain, 20 * math.log10(PEAK_CEILING / peak))


def spectrogram_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log power (dB re full scale) of a 32 ms Hann STFT with 8 ms hops, (bins, frames)."""
    import torch

    n_fft = int(2 ** round(math.log2(0.032 * sample_rate)))
    wave = torch.from_numpy(np.pad(samples, (0, max(0, n_fft - len(samples)))).astype(np.float32))
    spec = torch.stft(wave, n_fft, n_fft // 4, window=torch.hann_window(n_fft), return_complex=True)
    power = spec.abs().square() / (torch.hann_window(n_fft).sum() ** 2 / 4)
    return (10 * torch.log10(power.clamp_min(1e-12))).numpy()


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "x"


def build_rows(runs: list[Path], results, metrics: tuple[str, ...], chosen: list[tuple[str, str]], out: Path) -> list:
    """The page's rows: every chosen file's clips written under out/audio and out/images."""
    from cmkt.evaluation.report import plot_spectrogram_image

    index = read_audio_indexes(runs)
    systems = [r.system for r in results]
    missing = [s for s in systems if s not in index["systems"]]
    if missing:
        raise CmktError(f"no audio recorded for system(s) {', '.join(missing)}; score them again with -o")
    by_name = {r.system: {row["file"]: row for row in r.ok} for r in results}
    for folder in ("audio", "images"):
        shutil.rmtree(out / folder, ignore_errors=True)
    signals: list[tuple[FileRow, Clip, np.ndarray, int]] = []
    rows = []
    for number, (key, why) in enumerate(chosen, start=1):
        groups = {c: by_name[systems[0]].get(key, {}).get(c, "") for c in GROUP_COLUMNS if c not in SILENT_GROUPS}
        row = FileRow(key, {c: v for c, v in groups.items() if v}, why)
        reference = read_audio(index["reference"][key], mono=True)
        for system in [*systems, CLEAN]:
            path = None if system == CLEAN else index["systems"][system].get(key)
            if system != CLEAN and path is None:
                continue
            # as it was scored: at the reference's rate, mono
            audio = reference if system == CLEAN else read_audio(path, sample_rate=reference.sample_rate, mono=True)
            stem = f"{number:03d}_{safe_name(system)}"
            scores = {
                m: by_name[system][key][m]
                for m in metrics
                if system != CLEAN and by_name[system][key].get(m) is not None
            }
            clip = Clip(system, f"audio/{stem}.wav", f"images/{stem}.png", scores)
            clip.gain_db = listening_gain(audio.samples[0], reference.sample_rate)
            samples = audio.samples[0] * 10 ** (clip.gain_db / 20)
            write_audio(out / clip.audio, samples, reference.sample_rate, "PCM_16")
            signals.append((row, clip, spectrogram_db(samples, reference.sample_rate), reference.sample_rate))
            row.clips.append(clip)
        rows.append(row)
    top = max((float(spec.max()) for _, _, spec, _ in signals), default=0.0)
    for _, clip, spec, rate in signals:  # one colour scale for every image on the page
        plot_spectrogram_image(out / clip.image, spec, rate, (top - SPECTROGRAM_RANGE_DB, top))
    return rows, (top - SPECTROGRAM_RANGE_DB, top)


DEFAULT_MAX_FILES = 12
DEFAULT_GROUPS = ("snr_band", "lang", "noise")


def write_listening_report(
    runs: list[Path],
    out: Path,
    files: list[str] | None = None,
    max_files: int = DEFAULT_MAX_FILES,
    metric: str | None = None,
    reference: str | None = None,
) -> Path:
    """out/index.html with its audio, images and plots, from score or compare folders; returns the page."""
    from cmkt.evaluation.listening_page import render_page
    from cmkt.evaluation.report import plot_colour_scale, plot_score_set
    from cmkt.evaluation.runs import load_runs
    from cmkt.util.atomic_files import write_text_atomic

    if max_files < 1:
        raise CmktError(f"--max-files {max_files}: must be at least 1")
    results, metrics, reference = load_runs(runs, (), reference)
    names = [r.system for r in results]
    base = "noisy" if "noisy" in names else reference
    chosen_metric = choose_metric(metrics, metric)
    present = [c for c in DEFAULT_GROUPS if any(row.get(c) for r in results for row in r.ok)]
    if files:
        known = set(scored_by_all(results, chosen_metric))
        unknown = [f for f in files if f not in known]
        if unknown:
            raise CmktError(
                f"--files: {', '.join(unknown[:5])} not scored by every system; pick from scores.csv's file column"
            )
        found = [(f, "picked with --files") for f in files]
    else:
        found = choose_files(results, chosen_metric, present, base)
    chosen, available = found[:max_files], len(found)
    out.mkdir(parents=True, exist_ok=True)
    rows, scale = build_rows(runs, results, metrics, chosen, out)
    plot_colour_scale(out / "images" / "colour_scale.png", scale)
    plots = [
        p.relative_to(out).as_posix() for p in plot_score_set(out / "plots" / "scores.png", results, metrics, present)
    ]
    shown = (
        f"{len(rows)} of the {available} files the selection found are shown (cap: --max-files {max_files})."
        if available > len(rows)
        else f"{len(rows)} files are shown."
    )
    page = render_page("CMKT listening report", results, metrics, reference, rows, plots, shown, LISTENING_LUFS)
    write_text_atomic(out / "index.html", page)
    return out / "index.html"
