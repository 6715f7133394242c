"""What an augmentation is: a step with a stage and a probability, acting on one example being mixed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

STAGES = ("speech", "room", "noise", "mixture")  # the order the Mixer runs them in (see Mixer.mix)


@dataclass
class Example:
    """One utterance on its way to a (target, noisy) pair.

    `target` is what the model should output, `heard` the speech as the microphone gets it (they
    differ once a room is applied), `noise` the noise recording (a fitted segment after the noise
    stage), `noisy` the mixture (set by the Mixer between the noise and mixture stages)."""

    target: np.ndarray
    heard: np.ndarray
    noise: np.ndarray
    sample_rate: int
    split: str
    noisy: np.ndarray | None = None
    drawn: dict = field(default_factory=dict)


class Augmentation:
    """A train-only step drawn with probability `p` (at p >= 1 it always acts and draws no gate number,
    so lists written before it existed repeat their draws exactly)."""

    name: ClassVar[str]
    stage: ClassVar[str]
    default_p: ClassVar[float] = 1.0

    def __init__(self, p: float | None = None):
        self.p = self.default_p if p is None else p  # checked where the list is read (registry.read_spec)

    def __call__(self, example: Example, rng: np.random.Generator, pool) -> None:
        """Act on `example` in place if it is a train example and the gate opens; `pool` is the Mixer
        (its noise recordings and cached loader)."""
        if example.split == "train" and (self.p >= 1.0 or rng.random() < self.p):
            self.apply(example, rng, pool)

    def apply(self, example: Example, rng: np.random.Generator, pool) -> None:
        raise NotImplementedError
