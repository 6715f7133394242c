"""Corpus layouts that `cmkt prep --layout` reads, each into the same list of SpeechItem.

- folder:      audio files (recursive) with a .txt/.lab transcript beside each
- table:       TSV/CSV with path[,text,id,lang,speaker,split]
- librispeech: SUBSET/SPEAKER/CHAPTER/*.flac + SPEAKER-CHAPTER.trans.txt (train-*, dev-*, test-*)
- aishell:     wav/{train,dev,test}/SPEAKER/*.wav + transcript/aishell_transcript_v0.8.txt
- voicebank:   clean_*/ and noisy_*/ folders with matching names (+ *_txt/ transcripts), the
               VoiceBank-DEMAND layout: the noisy side comes with the corpus, nothing is mixed
`auto` picks one by the files it finds.
"""

from __future__ import annotations

import re
from pathlib import Path

from cmkt.audio import find_audio_files
from cmkt.data.corpus import SpeechItem, load_speech_corpus
from cmkt.errors import CmktError

LAYOUTS = ("auto", "folder", "table", "librispeech", "aishell", "voicebank")
VOICEBANK_VALID_SPEAKERS = ("p226", "p287")  # held out of the train set for validation, as the common recipes do


def detect_layout(source: Path) -> str:
    if source.is_file():
        return "table"
    if (source / "transcript" / "aishell_transcript_v0.8.txt").is_file():
        return "aishell"
    if next(source.glob("*/*/*/*.trans.txt"), None) or next(source.glob("*/*/*.trans.txt"), None):
        return "librispeech"
    if any(p.is_dir() and p.name.startswith("clean_") for p in source.iterdir()) and any(
        p.is_dir() and p.name.startswith("noisy_") for p in source.iterdir()
    ):
        return "voicebank"
    return "folder"


def load_corpus(source: str | Path, layout: str = "auto") -> list[SpeechItem]:
    """Speech items of a corpus in one of LAYOUTS."""
    source = Path(source)
    if not source.exists():
        raise CmktError(f"{source}: corpus not found; check the --speech argument")
    if layout not in LAYOUTS:
        raise CmktError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    layout = detect_layout(source) if layout == "auto" else layout
    readers = {
        "folder": load_speech_corpus,
        "table": load_speech_corpus,
        "librispeech": load_librispeech,
        "aishell": load_aishell,
        "voicebank": load_voicebank,
    }
    items = readers[layout](source)
    if not items:
        raise CmktError(f"{source}: no utterances found in the {layout} layout; check the folder or pass --layout")
    return items


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CmktError(f"{path}: transcript file is not UTF-8; re-save it as UTF-8") from exc


def _id_and_text(path: Path) -> dict[str, str]:
    """'ID text ...' lines (LibriSpeech .trans.txt, AISHELL transcript) -> {id: text}."""
    table = {}
    for line in _read_lines(path):
        parts = line.strip().split(maxsplit=1)
        if parts:
            table[parts[0]] = parts[1] if len(parts) > 1 else ""
    return table


def _split_of(name: str) -> str:
    name = name.lower()
    if name.startswith("train"):
        return "train"
    if name.startswith("dev") or name.startswith("valid"):
        return "valid"
    if name.startswith("test"):
        return "test"
    return ""


def load_librispeech(root: Path) -> list[SpeechItem]:
    items = []
    for trans in sorted(root.rglob("*.trans.txt")):
        texts = _id_and_text(trans)
        speaker = trans.parent.parent.name
        subset = trans.parent.parent.parent.name if trans.parent.parent.parent != root.parent else ""
        for utt_id, text in texts.items():
            audio = next(
                (
                    trans.parent / f"{utt_id}{ext}"
                    for ext in (".flac", ".wav")
                    if (trans.parent / f"{utt_id}{ext}").is_file()
                ),
                None,
            )
            if audio is None:
                raise CmktError(
                    f"{trans}: {utt_id} has a transcript but no audio beside it; restore the file or delete the line"
                )
            items.append(SpeechItem(utt_id, audio, text.lower().capitalize(), "en", speaker, _split_of(subset)))
    return items


def load_aishell(root: Path) -> list[SpeechItem]:
    texts = _id_and_text(root / "transcript" / "aishell_transcript_v0.8.txt")
    items = []
    for audio in find_audio_files(root / "wav"):
        rel = audio.relative_to(root / "wav").parts  # split/speaker/file
        text = texts.get(audio.stem)
        if text is None:
            continue  # AISHELL-1 ships some recordings without transcripts; they are left out, as its recipes do
        split = _split_of(rel[0]) if len(rel) >= 3 else ""
        items.append(
            SpeechItem(audio.stem, audio, text.replace(" ", ""), "zh", rel[-2] if len(rel) >= 2 else "", split)
        )
    return items


def load_voicebank(root: Path) -> list[SpeechItem]:
    items = []
    for clean_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("clean_")):
        tag = clean_dir.name[len("clean_") :]
        noisy_dir = root / f"noisy_{tag}"
        if not noisy_dir.is_dir():
            raise CmktError(
                f"{clean_dir}: no matching {noisy_dir.name}/ beside it; VoiceBank-DEMAND pairs clean_X with noisy_X"
            )
        text_dir = root / (re.sub(r"_wav$", "", tag) + "_txt")
        is_test = "test" in tag
        for clean in find_audio_files(clean_dir):
            noisy = noisy_dir / clean.relative_to(clean_dir)
            if not noisy.is_file():
                raise CmktError(f"{clean}: no noisy file {noisy}; the clean and noisy folders must hold the same names")
            text_file = text_dir / f"{clean.stem}.txt"
            text = " ".join(_read_lines(text_file)).strip() if text_file.is_file() else ""
            speaker = clean.stem.split("_")[0]
            split = "test" if is_test else ("valid" if speaker in VOICEBANK_VALID_SPEAKERS else "train")
            items.append(SpeechItem(clean.stem, clean, text, "en", speaker, split, noisy=noisy))
    return items
