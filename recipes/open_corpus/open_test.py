"""open-test: held-out speakers in held-out noises, as plain, reverberant and telephone conditions.

The same utterances appear in every condition, so conditions compare paired. Plain and
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

import numpy as np

from cmkt.audio import read_audio, resample, write_audio
from cmkt.errors import CmktError
from cmkt.files import write_csv_atomic
from cmkt.manifest import read_manifest, write_manifest

SNR_RANGE = (-5.0, 15.0)
SEED = 20261201
ROOMS = 48
RT60_RANGE = (0.2, 0.8)
MIN_SECONDS = 1.0
PHONE_RATE, PHONE_BAND = 8000, (300.0, 3400.0)
CONDITIONS = ("plain", "reverb", "telephone")


def choose_utterances(rows: list[dict], size: int, seed: int = SEED) -> list[dict]:
    """Up to `size` test utterances of at least MIN_SECONDS, taken round-robin over speakers so
    that no voice dominates."""
    by_speaker: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row["split"] == "test" and float(row["seconds"]) >= MIN_SECONDS and row["text"]:
            by_speaker[row["speaker"]].append(row)
    key = lambda text: hashlib.sha1(f"{seed}:{text}".encode()).hexdigest()  # noqa: E731
    queues = [sorted(by_speaker[s], key=lambda r: key(r["id"])) for s in sorted(by_speaker, key=key)]
    chosen: list[dict] = []
    while len(chosen) < size and any(queues):
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda r: r["id"])


def simulate_rooms(folder: Path, count: int = ROOMS, seed: int = SEED) -> Path:
    """`count` shoebox rooms (pyroomacoustics image method), RT60 uniform in RT60_RANGE."""
    try:
        import pyroomacoustics as pra
    except ImportError as exc:
        raise CmktError("pyroomacoustics is not installed; pip install 'cmkt[corpus]' to simulate rooms") from exc
    rng = np.random.default_rng(seed)
    for index in range(count):
        path = folder / f"room{index:03d}.wav"
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.5, 4)])
        rt60 = float(rng.uniform(*RT60_RANGE))
        source, microphone = rng.uniform(0.5, dims - 0.5), rng.uniform(0.5, dims - 0.5)
        if path.is_file():  # simulated before: every draw above is still made, so later rooms stay the same
            continue
        absorption, max_order = pra.inverse_sabine(rt60, dims)
        room = pra.ShoeBox(dims, fs=16000, materials=pra.Material(absorption), max_order=min(max_order, 40))
        room.add_source(source)
        room.add_microphone(microphone)
        room.compute_rir()
        write_audio(path, np.asarray(room.rir[0][0], dtype=np.float32), 16000, "FLOAT")
    return folder


def _prep(table: Path, noise: Path, out: Path, extra: list[str]) -> None:
    args = [sys.executable, "-m", "cmkt", "prep", "--speech", str(table), "--noise", str(noise), "-o", str(out),
            "--snr-range", str(SNR_RANGE[0]), str(SNR_RANGE[1]), "--seed", str(SEED), "--teacher", "none", *extra]
    subprocess.run(args, check=True)


def telephone_band(samples: np.ndarray, rate: int) -> np.ndarray:
    """8 kHz, band-passed to PHONE_BAND (two biquads each side, torchaudio)."""
    import torch
    import torchaudio.functional as AF

    narrow = torch.from_numpy(resample(samples[None, :], rate, PHONE_RATE)[0].copy())
    for _ in range(2):
        narrow = AF.highpass_biquad(narrow, PHONE_RATE, PHONE_BAND[0])
        narrow = AF.lowpass_biquad(narrow, PHONE_RATE, PHONE_BAND[1])
    return narrow.numpy()


def make_telephone(plain: Path, out: Path) -> Path:
    """The plain condition through the telephone band; the noisy side also through G.711 mu-law."""
    utterances = read_manifest(plain / "test.jsonl")
    converted = []
    for utt in utterances:
        for side, subtype in (("clean", "PCM_16"), ("noisy", "ULAW")):
            target = out / "test" / side / f"{utt.id}.wav"
            if not target.is_file():
                audio = read_audio(plain / getattr(utt, side))
                write_audio(target, telephone_band(audio.samples[0], audio.sample_rate), PHONE_RATE, subtype)
        converted.append(dataclasses.replace(utt, clean=f"test/clean/{utt.id}.wav", noisy=f"test/noisy/{utt.id}.wav",
                                             sample_rate=PHONE_RATE, extra={**utt.extra, "codec": "G.711 mu-law"}))
    write_manifest(out / "test.jsonl", converted)
    return out / "test.jsonl"


def build_open_test(out: Path, speech_rows: list[dict], size: int) -> dict[str, Path]:
    """Every condition's manifest under out/open_test/<condition>/test.jsonl."""
    root = out / "open_test"
    chosen = choose_utterances(speech_rows, size)
    if not chosen:
        raise CmktError(f"{out}: no test utterances of {MIN_SECONDS} s or more to build open-test from")
    table = root / "speech.tsv"
    fields = ["id", "path", "text", "lang", "speaker", "split"]
    write_csv_atomic(table, fields, [{k: row[k] if k != "path" else str((out / row["path"]).resolve()) for k in fields}
                                     for row in chosen], delimiter="\t")
    _prep(table, out / "noise", root / "plain", [])
    _prep(table, out / "noise", root / "reverb", ["--rir", str(simulate_rooms(root / "rooms")), "--rir-prob", "1"])
    make_telephone(root / "plain", root / "telephone")
    return {condition: root / condition / "test.jsonl" for condition in CONDITIONS}

