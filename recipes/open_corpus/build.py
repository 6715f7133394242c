"""Build the open corpus: 300+ real speakers and 2,000 real noises, split by speaker and recording.

Usage: python recipes/open_corpus/build.py --git-dir DIR [--out ~/.cache/cmkt/open_corpus]

DIR holds the git directories (bare or cloned) of jimbozhang/speechocean762, remvze/moodist and
rafaelmardojai/blanket; the Debian packages are fetched with `apt-get download`. The build is
deterministic (a fixed seed) and resumable: a rerun downloads, extracts and converts nothing
twice. It writes what `cmkt prep` reads, under --out:
  speech.tsv                  id, path, text, lang, speaker, gender, age, source, split, seconds
  noise/{train,valid,test}/   ambience pieces, longer effects, effect beds (and train babble)
  noise.tsv                   every noise recording with its source, family and split
  open_test/{plain,reverb,telephone}/test.jsonl   the real-world test set (see open_test.py)
  open_valid/{plain,reverb,telephone}/valid.jsonl its twin on the valid split, for tuning
  rooms/train/                                   simulated rooms for training's reverb augmentation (rooms.py)
  datacard.md, build_report.json                  the counts, what was dropped and why
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from cmkt.audio import read_audio, write_audio
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_csv_atomic, write_text_atomic
from cmkt.util.progress import console, progress_bar

if __package__ in (None, ""):  # run as a script: make `recipes` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.open_corpus import datacard, noise_beds, open_test, rooms  # noqa: E402
from recipes.open_corpus.convert import ConversionCache, default_workers, file_digest  # noqa: E402
from recipes.open_corpus.fetching import MARKER, download_deb, export_git, extract_deb, find_git_dir  # noqa: E402
from recipes.open_corpus.sources import NOISE, SOURCES, SPEECH, Source, SourceFile  # noqa: E402
from recipes.open_corpus.splitting import noise_splits, speaker_splits  # noqa: E402

SEED = 0
CLIPPED_SHARE = 0.001  # speech with more than 0.1% of samples at full scale is dropped
SILENT_PEAK = 1e-3
SILENT_WINDOW_RMS = 1e-4  # about -80 dBFS
MIN_SPEECH_S = 0.3
MIN_EFFECT_ALONE_S = 4.0  # effects at least this long are also used on their own
BABBLE_BEDS = 200
DEFAULT_OUT = Path.home() / ".cache" / "cmkt" / "open_corpus"


class Report:
    """What each source gave and lost, by reason: the data card is written from it."""

    def __init__(self) -> None:
        self.dropped: dict[str, dict[str, int]] = defaultdict(dict)
        self.problems: list[str] = []

    def drop(self, source: str, reason: str, count: int = 1) -> None:
        self.dropped[source][reason] = self.dropped[source].get(reason, 0) + count


def fetch_roots(out: Path, git_root: Path | None, sources: tuple[Source, ...], report: Report) -> dict[str, Path]:
    """Each source's extracted folder, fetched and extracted where not yet done."""
    roots: dict[str, Path] = {}
    for source in sources:
        kind, _, name = source.origin.partition(":")
        target = out / "extracted" / name.replace("/", "+")
        try:
            if kind == "deb":
                done = (target / MARKER).is_file()  # extracted before: no download needed
                roots[source.name] = target if done else extract_deb(download_deb(name, out / "downloads"), target)
            else:
                if git_root is None:
                    raise CmktError(f"{name}: give --git-dir with a git directory of it (bare or cloned)")
                roots[source.name], missing = export_git(find_git_dir(git_root, name), target)
                for path in missing:
                    report.problems.append(
                        f"{name}:{path}: not in the git directory (snapshots leave out large files); skipped"
                    )
        except CmktError as exc:
            report.problems.append(f"{source.name}: {exc}; source skipped")
    return roots


def list_sources(roots: dict[str, Path], sources: tuple[Source, ...], report: Report) -> list[SourceFile]:
    """Every file the sources offer, less what their rules drop and exact byte duplicates."""
    files: list[SourceFile] = []
    seen: dict[str, SourceFile] = {}
    for source in sources:
        if source.name not in roots:
            continue
        listing = source.read(roots[source.name])
        for reason, count in listing.dropped.items():
            report.drop(source.name, reason, count)
        for item in listing.files:
            digest = file_digest(item.path)
            if digest in seen:
                report.drop(source.name, "exact duplicate of another file")
                continue
            seen[digest] = item
            files.append(item)
    return files


def converted_path(out: Path, item: SourceFile) -> Path:
    return out / "audio" / item.source / f"{item.name}.flac"


def convert_and_check(
    out: Path, files: list[SourceFile], workers: int, report: Report
) -> tuple[list[SourceFile], ConversionCache]:
    """Convert everything (resumable); keep what reads whole and passes the quality rules."""
    cache = ConversionCache(out / "audio" / "measurements.json")
    with progress_bar() as bar:
        task = bar.add_task("converting", total=len(files), status="16 kHz FLAC")
        failures = cache.convert_all(
            ((f.path, converted_path(out, f)) for f in files), workers, lambda: bar.advance(task)
        )
    kept = []
    for item in files:
        measured = cache.measured(item.path)
        if measured is None:
            report.problems.append(f"{failures.get(str(item.path), f'{item.path}: not converted')}; skipped")
            report.drop(item.source, "unreadable or truncated")
        elif measured.peak < SILENT_PEAK:
            report.drop(item.source, "silent")
        elif item.kind == SPEECH and measured.clipped_share > CLIPPED_SHARE:
            report.drop(item.source, f"clipped speech (> {CLIPPED_SHARE:.1%} of samples at full scale)")
        elif item.kind == SPEECH and measured.seconds < MIN_SPEECH_S:
            report.drop(item.source, f"speech shorter than {MIN_SPEECH_S} s")
        else:
            kept.append(item)
    return kept, cache


def speech_rows(out: Path, speech: list[SourceFile], cache: ConversionCache, seed: int) -> list[dict]:
    """The speech table's rows, split by speaker."""
    speakers = {f.speaker: (f.source, f.gender, f.age) for f in speech}
    split = speaker_splits(speakers, seed)
    rows = []
    for item in speech:
        rows.append(
            {
                "id": f"{item.source}__{item.name.replace('/', '__')}",
                "path": str(converted_path(out, item).relative_to(out)),
                "text": " ".join(item.text.split()),
                "lang": item.lang,
                "speaker": item.speaker,
                "gender": item.gender,
                "age": "" if item.age is None else item.age,
                "source": item.source,
                "split": split[item.speaker],
                "seconds": cache.measured(item.path).seconds,
            }
        )
    return sorted(rows, key=lambda r: r["id"])


def noise_layout(out: Path, noise: list[SourceFile], rows: list[dict], cache: ConversionCache, seed: int) -> list[dict]:
    """noise/<split>/: ambience pieces, effects long enough alone, effect beds, and train babble."""
    split = noise_splits(
        {f"{f.source}/{f.name}": f"{f.family}/{'ambience' if f.ambience else 'effect'}" for f in noise}, seed
    )
    table, effects, ambiences = [], defaultdict(list), defaultdict(list)
    for item in noise:
        name, seconds = f"{item.source}/{item.name}", cache.measured(item.path).seconds
        part = split[name]
        table.append(
            {
                "recording": name,
                "source": item.source,
                "family": item.family,
                "kind": "ambience" if item.ambience else "effect",
                "split": part,
                "seconds": seconds,
            }
        )
        samples = read_audio(converted_path(out, item)).samples[0]
        if item.ambience:
            ambiences[part].append(samples)
            for index, piece in enumerate(noise_beds.cut_pieces(samples)):
                _write_once(out / "noise" / part / "ambience" / item.source / f"{item.name}__{index:03d}.flac", piece)
        else:
            effects[part].append(samples)
            if seconds >= MIN_EFFECT_ALONE_S:
                _write_once(out / "noise" / part / "effects" / item.source / f"{item.name}.flac", samples)
    for part in sorted(effects):
        count = max(1, len(effects[part]) // 3)
        for index, bed in enumerate(
            noise_beds.effect_beds(effects[part], ambiences[part], count, _split_seed(seed, part))
        ):
            _write_once(out / "noise" / part / "beds" / f"effects{index:04d}.flac", bed)
    voices: dict[str, list[np.ndarray]] = defaultdict(list)
    for row in rows:
        if row["split"] == "train" and row["source"] == "speechocean762" and len(voices[row["speaker"]]) < 4:
            voices[row["speaker"]].append(read_audio(out / row["path"]).samples[0])
    for index, bed in enumerate(noise_beds.babble_beds(voices, BABBLE_BEDS, seed)):
        _write_once(out / "noise" / "train" / "babble" / f"babble{index:04d}.flac", bed)
    return sorted(table, key=lambda r: r["recording"])


def _split_seed(seed: int, split: str) -> int:
    return seed * 1000 + ("train", "valid", "test").index(split)


def _write_once(path: Path, samples: np.ndarray) -> None:
    """Write a noise file unless it holds a silent eighth of a second: an utterance mixed over that stretch
    would have no noise to set an SNR with, and prep would have to skip it."""
    if not path.is_file() and noise_beds.quietest_window(samples) >= SILENT_WINDOW_RMS:
        write_audio(path, samples, noise_beds.RATE, "PCM_16")


def build(
    out: Path,
    git_root: Path | None,
    workers: int,
    open_test_size: int,
    seed: int = SEED,
    train_rooms: int = rooms.TRAIN_ROOMS,
    open_valid_size: int = 0,
) -> dict:
    """The whole corpus under `out`; returns the report the data card is made from."""
    started, report = time.time(), Report()
    roots = fetch_roots(out, git_root, SOURCES, report)
    files, cache = convert_and_check(out, list_sources(roots, SOURCES, report), workers, report)
    rows = speech_rows(out, [f for f in files if f.kind == SPEECH], cache, seed)
    write_csv_atomic(out / "speech.tsv", list(rows[0]) if rows else ["id", "path"], rows, delimiter="\t")
    noise_table = noise_layout(out, [f for f in files if f.kind == NOISE], rows, cache, seed)
    write_csv_atomic(
        out / "noise.tsv", list(noise_table[0]) if noise_table else ["recording"], noise_table, delimiter="\t"
    )
    conditions = open_test.build_open_test(out, rows, open_test_size) if open_test_size else {}
    if open_valid_size:  # what inference settings are tuned on (bench/open_test.py --split valid)
        open_test.build_open_test(out, rows, open_valid_size, "valid")
    rooms.train_rooms(out, train_rooms)
    summary = datacard.summarise(
        out, rows, noise_table, report.dropped, report.problems, conditions, time.time() - started
    )
    write_text_atomic(out / "build_report.json", json.dumps(summary, indent=1, default=str))
    write_text_atomic(out / "datacard.md", datacard.render(summary, {s.name: s.licence for s in SOURCES}))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where the corpus is built (default: %(default)s)"
    )
    parser.add_argument("--git-dir", type=Path, help="folder holding the three GitHub repositories' git directories")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes converting audio")
    parser.add_argument("--open-test-size", type=int, default=400, help="utterances in open-test (0: do not build it)")
    parser.add_argument(
        "--open-valid-size", type=int, default=400, help="utterances in open-valid, its valid twin (0: do not build it)"
    )
    args = parser.parse_args()
    try:
        summary = build(
            args.out.expanduser(), args.git_dir, args.workers, args.open_test_size, open_valid_size=args.open_valid_size
        )
    except CmktError as exc:
        raise SystemExit(f"error: {exc}") from exc
    for problem in summary["problems"][:20]:
        console.print(f"[yellow]{problem}", soft_wrap=True)
    console.print(
        f"{summary['speakers']} speakers, {summary['noise_recordings']} noise recordings; "
        f"{args.out / 'datacard.md'} ({summary['wall_minutes']:.1f} min)",
        soft_wrap=True,
    )
    print(args.out / "speech.tsv")


if __name__ == "__main__":
    main()
