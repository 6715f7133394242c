"""Random peaking filters: one recording made to sound as if heard through other rooms, mics and lines.

Shared by noise augmentation (re-colouring the train noises) and speech augmentation (re-colouring
the train speech), so both draw their filters the same way."""

from __future__ import annotations

import numpy as np

EQ_FREQ_RANGE = (80.0, 6000.0)  # centre frequencies, drawn log-uniform (below 8 kHz, Nyquist at 16 kHz)
EQ_Q_RANGE = (0.5, 2.0)
FILTER_PEAK = 0.1  # torchaudio's biquads clamp to [-1, 1]: filter well below it (the caller re-levels)


def random_equalizer(x, sample_rate: int, rng: np.random.Generator, gain_db: float):
    """`x` (a 1-D torch tensor) scaled to a peak of FILTER_PEAK, then through one to three peaking
    filters of up to ±`gain_db` at random centres and widths."""
    import torchaudio.functional as AF  # imported here: the CLI starts without torch

    x = x * (FILTER_PEAK / max(float(x.abs().max()), 1e-9))
    for _ in range(int(rng.integers(1, 4))):
        centre = min(float(np.exp(rng.uniform(*np.log(EQ_FREQ_RANGE)))), 0.45 * sample_rate)
        x = AF.equalizer_biquad(
            x, sample_rate, centre, float(rng.uniform(-gain_db, gain_db)), float(rng.uniform(*EQ_Q_RANGE))
        )
    return x
