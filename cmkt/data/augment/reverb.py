"""Reverberation: the train speech heard in a room, the target dry or with its early reflections.

A model trained on close-talk speech takes a room's reverberant tail for noise and shreds it, or
leaves it and the noise in it alone. Convolving the speech with simulated rooms teaches it what
a room sounds like. The target keeps the first EARLY_MS after the direct sound (`reverb`, what
the DNS challenge and DeepFilterNet train towards: early reflections are heard as part of the
voice, and removing them is dereverberation, a harder job) or none of it (`reverb_dry`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmkt.audio import find_audio_files
from cmkt.data.augment.base import Augmentation, Example
from cmkt.data.mixing import pick_one, reverberate
from cmkt.errors import CmktError

EARLY_MS = 50.0  # reflections within this time of the direct sound stay in the `reverb` target
FADE_MS = 10.0  # ... fading out over this long, so the cut adds no click


def early_part(rir: np.ndarray, sample_rate: int) -> np.ndarray:
    """The impulse response up to EARLY_MS after its direct path (its largest peak), faded out."""
    rir = np.asarray(rir, dtype=np.float32).reshape(-1)
    end = int(np.argmax(np.abs(rir))) + int(EARLY_MS / 1000 * sample_rate)
    fade = int(FADE_MS / 1000 * sample_rate)
    window = np.zeros_like(rir)
    window[:end] = 1.0
    ramp = np.cos(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
    window[end : end + fade] = ramp[: max(0, min(fade, len(rir) - end))]
    return rir * window


class Reverb(Augmentation):
    """`reverb` (p 0.3 by default): speech convolved with a room impulse response from `rirs`; the
    target keeps the early reflections. An example already reverberant (prep's --rir) is left alone."""

    name, stage, default_p = "reverb", "room", 0.3
    dry_target = False

    def __init__(self, p: float | None = None, rirs: str | Path | None = None):
        super().__init__(p)
        if not rirs:
            raise CmktError(
                f"--augment {self.name} needs rooms: pass --rirs FOLDER of impulse responses "
                "(the open corpus builds one: recipes/open_corpus/README.md)"
            )
        self.rirs = find_audio_files(rirs)
        if not self.rirs:
            raise CmktError(f"{rirs}: no impulse responses (WAV/FLAC) found; check --rirs")

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        path = pick_one(self.rirs, rng)
        if example.heard is not example.target:
            return
        rir = pool.load(path)
        example.heard = reverberate(example.target, rir)
        if not self.dry_target:
            example.target = reverberate(example.target, early_part(rir, example.sample_rate))
        example.drawn["rir"] = path.stem


class DryReverb(Reverb):
    """`reverb_dry`: as `reverb`, but the target is the dry speech (the model also dereverberates)."""

    name = "reverb_dry"
    dry_target = True
