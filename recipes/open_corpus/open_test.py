"""open-test: held-out speakers in held-out noises, as plain, reverberant and telephone conditions.

The same utterances appear in every condition, so conditions compare paired. open-valid is the
same recipe on the valid speakers and noises (other rooms, another seed): what inference settings
are tuned on before open-test scores them. Plain and
reverberant mixtures are made by `cmkt prep` itself (the code every training mixture goes
through); the telephone condition is the plain one band-passed to 300-3400 Hz at 8 kHz, its
noisy side through a G.711 mu-law codec, scored at 8 kHz with narrowband PESQ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


from cmkt.audio import read_audio, write_audio
from cmkt.data.augment.band_limit import PHONE_RATE, telephone_band  # the same band training's band_limit draws
from cmkt.errors import CmktError
from cmkt.util.atomic_files import write_csv_atomic
from cmkt.data.manifest import read_manifest, write_manifest
from recipes.open_corpus.rooms import simulate_rooms

SNR_RANGE = (-5.0, 15.0)
SEED = 20261201
ROOMS = 48
MIN_SECONDS = 1.0
CONDITIONS = ("plain", "reverb", "telephone")


def choose_utterances(rows: list[dict], size: int, seed: int = SEED, split: str = "test") -> list[dict]:
    """Up to `size` utterances of `split` of at least MIN_SECONDS, taken round-robin over speakers so
    that no voice dominates."""
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["split"] == split and float(row["seconds"]) >= MIN_SECONDS and row["text"]:
            by_speaker[row["speaker"]].append(row)
    key = lambda text: hashlib.sha1(f"{seed}:{text}".encode()).hexdigest()  # noqa: E731
    queues = [sorted(by_speaker[s], key=lambda r: key(r["id"])) for s in sorted(by_speaker, key=key)]
    chosen: list[dict] = []
    while len(chosen) < size and any(queues):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda r: r["id"])


def _prep(table: Path, noise: Path, out: Path, extra: list[str], seed: int = SEED) -> None:
    args = [
        sys.executable,
        "-m",
        "cmkt",
        "prep",
        "--speech",
        str(table),
        "--noise",
        str(noise),
        "-o",
        str(out),
        "--snr-range",
        str(SNR_RANGE[0]),
        str(SNR_RANGE[1]),
        "--seed",
        str(seed),
        "--teacher",
        "none",
        *extra,
    ]
    subprocess.run(args, check=True)


def make_telephone(plain: Path, out: Path, split: str = "test") -> Path:
    """The plain condition through the telephone band; the noisy side also through G.711 mu-law."""
    utterances = read_manifest(plain / f"{split}.jsonl")
    converted = []
    for utt in utterances:
        for side, subtype in (("clean", "PCM_16"), ("noisy", "ULAW")):
            target = out / split / side / f"{utt.id}.wav"
            if not target.is_file():
                audio = read_audio(plain / getattr(utt, side))
                write_audio(target, telephone_band(audio.samples[0], audio.sample_rate), PHONE_RATE, subtype)
        converted.append(
            dataclasses.replace(
                utt,
                clean=f"{split}/clean/{utt.id}.wav",
                noisy=f"{split}/noisy/{utt.id}.wav",
                sample_rate=PHONE_RATE,
                extra={**utt.extra, "codec": "G.711 mu-law"},
            )
        )
    write_manifest(out / f"{split}.jsonl", converted)
    return out / f"{split}.jsonl"


SPLIT_SEEDS = {"test": SEED, "valid": SEED + 1}  # valid gets its own mixtures and rooms


def build_open_test(out: Path, speech_rows: list[dict], size: int, split: str = "test") -> dict[str, Path]:
    """Every condition's manifest under out/open_<split>/<condition>/<split>.jsonl (split: test or valid)."""
    root, seed = out / f"open_{split}", SPLIT_SEEDS[split]
    chosen = choose_utterances(speech_rows, size, seed, split)
    if not chosen:
        raise CmktError(f"{out}: no {split} utterances of {MIN_SECONDS} s or more to build open-{split} from")
    table = root / "speech.tsv"
    fields = ["id", "path", "text", "lang", "speaker", "split"]
    write_csv_atomic(
        table,
        fields,
        [{k: row[k] if k != "path" else str((out / row["path"]).resolve()) for k in fields} for row in chosen],
        delimiter="\t",
    )
    _prep(table, out / "noise", root / "plain", [], seed)
    _prep(
        table,
        out / "noise",
        root / "reverb",
        ["--rir", str(simulate_rooms(root / "rooms", ROOMS, seed)), "--rir-prob", "1"],
        seed,
    )
    make_telephone(root / "plain", root / "telephone", split)
    return {condition: root / condition / f"{split}.jsonl" for condition in CONDITIONS}
