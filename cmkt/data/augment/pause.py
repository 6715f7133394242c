"""Pauses: silence before and after the speech, with the noise going on through it.

Most train speech is short prompts cut close to the words (the quietest 16 ms frame of a ktuberling clip
is a median 38 dB below its loudest, of a tuxpaint clip 41 dB), so a model sees little noise with no
speech under it and learns little about removing it there. Real recordings start and end in noise
and pause between phrases, and that is where listeners (and DNSMOS BAK) hear residual noise first:
on open-valid the s7 model took the noise 16 dB down in speech pauses, RNNoise and DeepFilterNet3
42 dB (bench/pauses.py). Silence is
added to the target before the room and the noise stages, so the mixture has noise alone there and
the target is silent; the SNR is still set on active speech (cmkt.data.mixing.active_rms)."""

from __future__ import annotations

import numpy as np

from cmkt.data.augment.base import Augmentation, Example

PAUSE_PROB = 0.5  # how often an utterance gets its pauses
PAUSE_SECONDS = (0.1, 1.0)  # the silence before, and (drawn again) after, the speech


class Pause(Augmentation):
    """`pause`: 0.1-1.0 s of silence before and after the speech (each drawn), p PAUSE_PROB by default."""

    name, stage, default_p = "pause", "speech", PAUSE_PROB

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        lead, tail = (int(float(rng.uniform(*PAUSE_SECONDS)) * example.sample_rate) for _ in range(2))
        example.target = example.heard = np.pad(example.target, (lead, tail)).astype(np.float32)
        example.drawn["pause_samples"] = (lead, tail)
