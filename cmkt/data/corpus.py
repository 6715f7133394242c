"""Reading a user's speech and noise: a folder of audio (+ .txt/.lab transcripts) or a TSV/CSV."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cmkt.audio import AUDIO_SUFFIXES, find_audio_files
from cmkt.errors import CmktError

SPLITS = ("train", "valid", "test")


@dataclass
class SpeechItem:
    """One clean recording with what is known about it."""

    id: str
    path: Path
    text: str = ""
    lang: str = ""
    speaker: str = ""
    split: str = ""
    noisy: Path | None = None  # a corpus that ships its own noisy version (VoiceBank-DEMAND): nothing to mix


def _read_sidecar(audio: Path) -> str:
    for suffix in (".txt", ".lab"):
        side = audio.with_suffix(suffix)
        if side.is_file():
            try:
                return " ".join(side.read_text(encoding="utf-8").split())
            except UnicodeDecodeError as exc:
                raise CmktError(f"{side}: transcript is not UTF-8; re-save it as UTF-8") from exc
    return ""


def _id_from_path(path: Path, root: Path) -> str:
    return "__".join(path.relative_to(root).with_suffix("").parts)


def load_speech_corpus(source: str | Path) -> list[SpeechItem]:
    """Speech items from a folder (recursive, sidecar transcripts) or a TSV/CSV table.

    A table needs a `path` column (relative to the table) and may have text, id, lang, speaker
    and split columns.
    """
    source = Path(source)
    if source.is_dir():
        files = find_audio_files(source)
        if not files:
            raise CmktError(f"{source}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found; check the folder")
        return [SpeechItem(_id_from_path(p, source), p, _read_sidecar(p)) for p in files]
    if source.is_file() and source.suffix.lower() in {".tsv", ".csv", ".txt"}:
        return _load_table(source)
    raise CmktError(f"{source}: not a folder of audio or a .tsv/.csv table; check the --speech argument")


def _load_table(table: Path) -> list[SpeechItem]:
    delimiter = "," if table.suffix.lower() == ".csv" else "\t"
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    try:
        with table.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=delimiter, quoting=quoting))
    except UnicodeDecodeError as exc:
        raise CmktError(f"{table}: not UTF-8 text; re-save it as UTF-8") from exc
    if not rows or "path" not in rows[0]:
        raise CmktError(f"{table}: needs a header with a `path` column (and optionally text, id, lang, speaker, split)")
    items, seen = [], set()
    for lineno, row in enumerate(rows, start=2):
        path = (
            table.parent / row["path"]
        ).resolve()  # a missing file is reported and skipped by prep, like an unreadable one
        item_id = row.get("id") or _id_from_path(path, table.parent.resolve())
        if item_id in seen:
            raise CmktError(f"{table}:{lineno}: duplicate id {item_id!r}; ids must be unique")
        seen.add(item_id)
        split = row.get("split", "") or ""
        if split and split not in SPLITS:
            raise CmktError(f"{table}:{lineno}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
        items.append(
            SpeechItem(
                item_id,
                path,
                (row.get("text") or "").strip(),
                row.get("lang", "") or "",
                row.get("speaker", "") or "",
                split,
            )
        )
    return items


def hash_split(key: str, fractions: tuple[float, float, float]) -> str:
    """Deterministic split from a key: the same utterance lands in the same split on every machine."""
    value = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    if value < fractions[0]:
        return "train"
    if value < fractions[0] + fractions[1]:
        return "valid"
    return "test"


def unreadable_noise(noises: dict[str, list[Path]]) -> list[str]:
    """A problem line for every noise file that cannot be opened (read from its header only)."""
    from cmkt.audio import audio_seconds

    problems = []
    for path in sorted({p for paths in noises.values() for p in paths}):
        try:
            audio_seconds(path)
        except CmktError as exc:
            problems.append(str(exc))
    return problems


def load_noise_folders(source: str | Path, needed: tuple[str, ...] = SPLITS) -> dict[str, list[Path]]:
    """Noise files per split: train/valid/test subfolders if present, else one pool for all.

    `needed` names the splits that must have noise: prep mixes all three, dynamic mixing in
    training only the train split, so a training machine need not carry the test noises."""
    source = Path(source)
    if not source.is_dir():
        raise CmktError(f"{source}: noise folder not found; check the --noise argument")
    by_split = {s: find_audio_files(source / s) for s in SPLITS if (source / s).is_dir()}
    if by_split:
        missing = [s for s in needed if not by_split.get(s)]
        if missing:
            raise CmktError(
                f"{source}: noise subfolder(s) {', '.join(missing)} missing or empty; add them or flatten the folder"
            )
        return by_split
    pool = find_audio_files(source)
    if not pool:
        raise CmktError(f"{source}: no noise audio found; add WAV/FLAC files")
    return {s: pool for s in SPLITS}
