"""Shared fixtures: real audio made in the tests (tones, noise, eSpeak NG speech) and the one
skip-if-absent entry point to ../shared/data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back when you get this message.",
    "The train to the airport leaves every twenty minutes.",
    "A cup of hot tea is the best cure for a cold afternoon.",
    "The library closes at nine on weekdays.",
    "Our flight was delayed because of the heavy fog.",
]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (development recordings); tests using it skip where it is absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def tone(seconds: float = 1.0, sample_rate: int = 16000, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def deep_filter_model(order: int = 3, seed: int = 0, refine_layers: int = 0):
    """A small stft-mask-gru with a deep filter (and `refine_layers` of refiner) whose normally
    zero-start weights are random, so that they act."""
    import torch

    from cmkt.registry import build_model

    torch.manual_seed(seed)
    model = build_model("stft-mask-gru", {"hidden": 32, "deep_filter_order": order, "refine_layers": refine_layers})
    torch.nn.init.normal_(model.deep_filter.weight, std=0.2)
    if refine_layers:
        torch.nn.init.normal_(model.refiner_out.weight, std=0.3)
    return model.eval()


def push_in_blocks(processor, signal: np.ndarray, sizes) -> np.ndarray:
    """Feed (channels, n) `signal` to a push/flush processor (stream, resampler, chunker) in blocks
    of the given sizes (cycled), then flush; the joined output."""
    import itertools

    pieces, start = [], 0
    for size in itertools.cycle(sizes):
        if start >= signal.shape[1]:
            break
        pieces.append(processor.push(signal[:, start : start + size]))
        start += size
    pieces.append(processor.flush())
    return np.concatenate(pieces, axis=1)


@pytest.fixture(scope="session")
def speech_corpus(tmp_path_factory) -> Path:
    """A TSV corpus of real synthetic speech (eSpeak NG, two voices) with exact transcripts."""
    from recipes.quickstart.synth import Synthesizer, Voice

    root = tmp_path_factory.mktemp("corpus")
    synth = Synthesizer()
    rows = []
    for voice in (Voice("f", "espeak", "en-us+f2"), Voice("m", "espeak", "en-us+m3")):
        for index, text in enumerate(SENTENCES):
            audio, rate = synth(text, voice)
            name = f"{voice.name}_{index}.wav"
            sf.write(root / name, audio, rate)
            split = "train" if index < 4 else ("valid" if index == 4 else "test")
            rows.append(
                {"path": name, "text": text, "id": f"{voice.name}{index}", "speaker": voice.name, "split": split}
            )
    with (root / "corpus.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(rows[0]), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"
        )
        writer.writeheader()
        writer.writerows(rows)
    return root / "corpus.tsv"


def white_noise_mixing(root: Path, seconds: float = 3.0):
    """A PrepConfig mixing at 0-5 dB with one white-noise recording in each of train/, valid/ and test/ under `root`."""
    from cmkt.data.prep import PrepConfig

    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        (root / "noise" / split).mkdir(parents=True)
        sf.write(
            root / "noise" / split / "white.wav",
            rng.standard_normal(int(16000 * seconds)).astype(np.float32) * 0.1,
            16000,
        )
    return PrepConfig(speech="unused", noise=str(root / "noise"), out=str(root / "out"), snr_range=(0.0, 5.0))


@pytest.fixture(scope="session")
def noise_folder(tmp_path_factory) -> Path:
    from recipes.quickstart.noise_gen import coloured_noise, hum

    root = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(0)
    sf.write(root / "pink.wav", coloured_noise(16000 * 5, 1.0, rng), 16000)
    sf.write(root / "hum.wav", hum(16000 * 3, 16000, rng), 16000)
    return root


@pytest.fixture(scope="session")
def prepared(speech_corpus, noise_folder, tmp_path_factory) -> Path:
    """`prepare` run on the speech corpus with the real default teacher."""
    from cmkt.data.prep import PrepConfig, prepare

    out = tmp_path_factory.mktemp("prepared")
    prepare(PrepConfig(str(speech_corpus), str(noise_folder), str(out), snrs=[0.0, 5.0]))
    return out


def tiny_train_config(prepared: Path, out: Path, steps: int = 2, **settings):
    """A TrainConfig for a real training run small enough for a test: `prepared`'s manifests, batches
    of 2, one validation item every 2 steps and a 32-unit model unless `settings` say otherwise."""
    from cmkt.training.trainer import TrainConfig

    defaults = {"batch_size": 2, "valid_every": 2, "valid_items": 1, "model": {"hidden": 32}}
    return TrainConfig(
        str(prepared / "train.jsonl"), str(prepared / "valid.jsonl"), str(out), steps=steps, **{**defaults, **settings}
    )


@pytest.fixture(scope="session")
def trained_model(prepared, tmp_path_factory) -> Path:
    """A real (tiny) CMKT training run; returns its best checkpoint."""
    from cmkt.training.trainer import train

    return train(tiny_train_config(prepared, tmp_path_factory.mktemp("run"), 4, valid_items=2, model={"hidden": 64}))
