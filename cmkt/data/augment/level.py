"""Level: speech as quiet as a far talker or as loud as a clipping microphone.

Prepared mixtures sit near one level, so a model learns that level; real recordings arrive from
-45 dBFS (a quiet voice on a laptop) to full scale and beyond, clipped. The target is scaled with
the mixture and never clipped: the model learns to follow the level it hears and not to copy
clipping into its output."""

from __future__ import annotations

import numpy as np

from cmkt.data.augment.base import Augmentation, Example
from cmkt.data.mixing import PEAK_LIMIT, active_rms

SPEECH_DBFS = (-45.0, -15.0)  # active speech level of the target, drawn uniformly
CLIP_PROB = 0.03  # how often the mixture is driven past full scale and clipped
OVERDRIVE_DB = (1.0, 10.0)  # how far its peak is pushed past full scale before the clip


class Level(Augmentation):
    """`level`: the speech at a random level in SPEECH_DBFS; the mixture clipped on CLIP_PROB of examples."""

    name, stage = "level", "mixture"

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        speech = active_rms(example.target, example.sample_rate)
        if speech <= 0:
            return
        gain = 10 ** (float(rng.uniform(*SPEECH_DBFS)) / 20) / speech
        target, noisy = example.target * gain, example.noisy * gain
        peak = float(np.abs(noisy).max())
        if rng.random() < CLIP_PROB and peak > 0:
            overdrive = 10 ** (float(rng.uniform(*OVERDRIVE_DB)) / 20) / peak
            target, noisy = target * overdrive, np.clip(noisy * overdrive, -1.0, 1.0)
            example.drawn["clipped"] = True
        elif peak > PEAK_LIMIT:
            target, noisy = target * (PEAK_LIMIT / peak), noisy * (PEAK_LIMIT / peak)
        example.target, example.noisy = target.astype(np.float32), noisy.astype(np.float32)
