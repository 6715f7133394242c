"""Speech augmentation for dynamic mixing: the train speech heard through other mics and lines.

The train speech is a few hundred telephone-style prompts and TTS voices, each with its own fixed
colouring; a model that learns that colouring as "speech" treats other colourings partly as noise.
Mild random peaking filters on the clean speech (target and mixture alike, so the model learns to
keep whatever colouring it hears) widen what it takes for speech, as DNS-style recipes do.
Everything is drawn from the caller's generator, so a seed repeats the same speech."""

from __future__ import annotations

import numpy as np

from cmkt.data.augment.base import Augmentation, Example
from cmkt.data.augment.equalizer import random_equalizer
from cmkt.data.mixing import rms

SPEECH_EQ_PROB = 0.5  # how often an utterance is re-coloured
SPEECH_EQ_GAIN_DB = 6.0  # each peaking filter boosts or cuts up to this much: a mic or a line, not a vocoder


def recolour_speech(clean: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """`clean` through one to three random peaking filters, at its own RMS level."""
    import torch  # imported here: the CLI starts without torch

    shaped = random_equalizer(
        torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)), sample_rate, rng, SPEECH_EQ_GAIN_DB
    ).numpy()
    return (shaped * (rms(clean) / max(rms(shaped), 1e-12))).astype(np.float32)


class SpeechColour(Augmentation):
    """`speech_eq`: the speech (target and mixture alike) re-coloured, p SPEECH_EQ_PROB by default."""

    name, stage, default_p = "speech_eq", "speech", SPEECH_EQ_PROB

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        example.target = example.heard = recolour_speech(example.target, example.sample_rate, rng)
