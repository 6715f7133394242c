"""Quickstart: build a small offline corpus, train baseline and CMKT, enhance, score, plot.

Everything runs offline on the CPU in about ten minutes on 2 cores. Each stage is a plain
`cmkt` command (printed before it runs), so the same steps work on your own data.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from cmkt.util.atomic_files import write_csv_atomic
from cmkt.evaluation.report import plot_spectrograms

if __package__ in (None, ""):  # run as a script: make `recipes` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from recipes.quickstart import noise_gen  # noqa: E402
from recipes.quickstart.synth import Synthesizer, Voice  # noqa: E402

HERE = Path(__file__).resolve().parent
VOICES = [
    Voice("joe", "piper", rate_scale=1.0),
    Voice("espeak_us_f2", "espeak", "en-us+f2", 1.0),
    Voice("espeak_us_m3", "espeak", "en-us+m3", 1.1),
    Voice("espeak_en_f4", "espeak", "en+f4", 0.95),
]
NOISE_SECONDS = {"train": 40, "valid": 15, "test": 15}


def sentence_split(text: str) -> str:
    """80/10/10 by sentence, so test sentences are never heard in training (any voice)."""
    value = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 10
    return "train" if value < 8 else ("valid" if value == 8 else "test")


def build_corpus(root: Path, voices: list[Voice] = VOICES) -> Path:
    """Speak every sentence in every voice; write corpus.tsv (path, text, id, lang, speaker, split)."""
    table = root / "corpus.tsv"
    if table.is_file():
        return table
    synth = Synthesizer()
    sentences = [s.strip() for s in (HERE / "sentences.txt").read_text(encoding="utf-8").splitlines() if s.strip()]
    rows = []
    for voice in voices:
        for index, text in enumerate(sentences):
            audio, rate = synth(text, voice)
            rel = Path(voice.name) / f"s{index:03d}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            sf.write(root / rel, audio, rate, subtype="PCM_16")
            rows.append(
                {
                    "path": str(rel),
                    "text": text,
                    "id": f"{voice.name}_s{index:03d}",
                    "lang": "en",
                    "speaker": voice.name,
                    "split": sentence_split(text),
                }
            )
    write_csv_atomic(table, list(rows[0]), rows, delimiter="\t")
    return table


def build_noise(root: Path, corpus: Path, sample_rate: int = 16000, seed: int = 7) -> Path:
    """Coloured noise, hum, clicks and babble; babble of each split uses that split's speech only."""
    if (root / "test").is_dir():
        return root
    rows = list(csv.DictReader(corpus.open(encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))
    for split_index, (split, seconds) in enumerate(NOISE_SECONDS.items()):
        rng = np.random.default_rng(seed + split_index)
        n = seconds * sample_rate
        speech = []
        for row in rows:
            if row["split"] == split:
                audio, rate = sf.read(corpus.parent / row["path"], dtype="float32")
                speech.append(audio[:: max(1, rate // sample_rate)])
        kinds = {
            "white": noise_gen.coloured_noise(n, 0.0, rng),
            "pink": noise_gen.coloured_noise(n, 1.0, rng),
            "brown": noise_gen.coloured_noise(n, 2.0, rng),
            "hum": noise_gen.hum(n, sample_rate, rng),
            "clicks": noise_gen.clicks(n, sample_rate, rng),
            "babble": noise_gen.babble(speech, n, rng, sample_rate=sample_rate),
        }
        (root / split).mkdir(parents=True, exist_ok=True)
        for name, signal in kinds.items():
            sf.write(root / split / f"{name}.wav", signal, sample_rate, subtype="PCM_16")
    return root


def cmkt(*args: str) -> None:
    """Run one `cmkt` command as a user would, echoing it first."""
    command = [sys.executable, "-m", "cmkt", *args]
    print(f"\n$ cmkt {shlex.join(args)}", flush=True)
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/quickstart", type=Path)
    parser.add_argument("--steps", type=int, default=1000, help="training steps per model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    out: Path = args.out
    start = time.perf_counter()
    print("building the synthetic corpus (piper + eSpeak NG voices) and noises ...", flush=True)
    corpus = build_corpus(out / "corpus")
    noise = build_noise(out / "noise", corpus)
    data = out / "data"
    if not (data / "test.jsonl").is_file():
        cmkt(
            "prep",
            "--speech",
            str(corpus),
            "--noise",
            str(noise),
            "-o",
            str(data),
            "--snr",
            "-5",
            "--snr",
            "0",
            "--snr",
            "5",
            "--snr",
            "10",
        )
    common = [
        "--train",
        str(data / "train.jsonl"),
        "--valid",
        str(data / "valid.jsonl"),
        "--steps",
        str(args.steps),
        "--valid-every",
        str(max(1, args.steps // 4)),
        "--threads",
        str(args.threads),
    ]
    for name, teacher in (("baseline", "none"), ("cmkt", "auto")):
        run = out / "runs" / name
        resume = ["--resume"] if (run / "checkpoint.pt").is_file() else []
        cmkt("train", *common, "--teacher", teacher, "-o", str(run), *resume)
        cmkt(
            "enhance",
            str(data / "test" / "noisy"),
            "-o",
            str(out / "enhanced" / name),
            "--model",
            str(run / "model.pt"),
            "--overwrite",
        )
    shipped = out / "enhanced" / "cmkt-base-16k"  # the pretrained default model, for comparison: no --model needed
    cmkt("enhance", str(data / "test" / "noisy"), "-o", str(shipped), "--overwrite")
    cmkt(
        "score",
        "--manifest",
        str(data / "test.jsonl"),
        "--est",
        f"baseline={out / 'enhanced' / 'baseline'}",
        "--est",
        f"cmkt={out / 'enhanced' / 'cmkt'}",
        "--est",
        f"cmkt-base-16k={shipped}",
        "--metrics",
        "pesq_wb,pesq_nb,stoi,estoi,si_sdr,snr_gain",
        "--by",
        "snr,noise",
        "-o",
        str(out / "scores"),
    )
    cmkt("compare", str(out / "scores"), "--reference", "baseline", "-o", str(out / "compare"))
    cmkt("report", str(out / "compare"), "--reference", "baseline", "-o", str(out / "listen"))
    example = sorted((data / "test" / "clean").glob("*.wav"))[0]
    signals = {"clean": sf.read(example)[0], "noisy": sf.read(data / "test" / "noisy" / example.name)[0]}
    for name in ("baseline", "cmkt", "cmkt-base-16k"):
        signals[f"enhanced ({name})"] = sf.read(out / "enhanced" / name / example.name)[0]
    plot_spectrograms(out / "spectrograms.png", signals, 16000)
    print(f"\nquickstart finished in {(time.perf_counter() - start) / 60:.1f} min. Outputs:")
    for label, path in [
        ("score tables", out / "scores" / "summary.md"),
        ("per-file scores", out / "scores" / "scores.csv"),
        ("score plot", out / "scores" / "scores.png"),
        ("paired tests", out / "compare" / "report.md"),
        ("spectrograms", out / "spectrograms.png"),
        ("training curves", out / "runs" / "*" / "training_curves.png"),
        ("models", out / "runs" / "*" / "model.pt"),
        ("enhanced audio", out / "enhanced"),
        ("listening page", out / "listen" / "index.html"),
    ]:
        print(f"  {label:16s} {path}")
    print(f"\nopen the listening page in a browser: {(out / 'listen' / 'index.html').resolve().as_uri()}")


if __name__ == "__main__":
    main()
