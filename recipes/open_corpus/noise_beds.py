"""Noise that sounds like a place: long ambiences cut into pieces, short effects laid into beds.

Dynamic mixing draws noise files uniformly, so a 5-minute ambience cut into 15-second pieces is
drawn in proportion to its length (real ambiences weighted up, as OPEN_CORPUS.md suggests), and a
0.3 s effect is never looped alone: several effects at random offsets over a quiet ambience make
a bed. Babble beds sum 3-10 training voices (train split only: no held-out voice is heard).
"""

from __future__ import annotations

import numpy as np

from cmkt.data.mixing import active_rms, fit_noise

from recipes.open_corpus.convert import RATE

PIECE_S, MIN_PIECE_S = 15.0, 5.0
BED_S = 20.0
EFFECTS_PER_BED = (4, 9)  # drawn from [lo, hi)
EFFECT_GAIN_DB = (-12.0, 0.0)
AMBIENCE_UNDER_DB = (-20.0, -8.0)  # the quiet ambience under the effects, relative to them
BABBLE_VOICES = (3, 11)
PEAK = 0.5


def cut_pieces(
    samples: np.ndarray, piece_s: float = PIECE_S, min_piece_s: float = MIN_PIECE_S, rate: int = RATE
) -> list[np.ndarray]:
    """Consecutive pieces of `piece_s`; a last piece shorter than `min_piece_s` is dropped (kept if it is all there
    is)."""
    size, least = int(piece_s * rate), int(min_piece_s * rate)
    pieces = [samples[start : start + size] for start in range(0, len(samples), size)]
    kept = [p for p in pieces if len(p) >= least]
    return kept or [samples]


def quietest_window(samples: np.ndarray, window_s: float = 0.125, rate: int = RATE) -> float:
    """RMS of the quietest `window_s` window (of the whole signal if shorter): the shortest
    utterance the corpus holds (0.3 s) always spans one whole such window."""
    size = int(window_s * rate)
    n = len(samples) // size
    if n == 0:
        return float(np.sqrt(np.mean(np.asarray(samples, dtype=np.float64) ** 2))) if len(samples) else 0.0
    return float(np.sqrt((np.asarray(samples[: n * size], dtype=np.float64).reshape(n, size) ** 2).mean(axis=1)).min())


def _normalised(signal: np.ndarray) -> np.ndarray:
    level = active_rms(signal, RATE)
    return signal / level if level > 0 else signal


def lay_bed(
    layers: list[np.ndarray],
    rng: np.random.Generator,
    seconds: float = BED_S,
    under: np.ndarray | None = None,
    gain_db: tuple[float, float] = EFFECT_GAIN_DB,
) -> np.ndarray:
    """`layers` placed at random offsets (each at a random level) over an optional quiet `under`."""
    length = int(seconds * RATE)
    bed = np.zeros(length, dtype=np.float64)
    for layer in layers:
        layer = _normalised(np.asarray(layer, dtype=np.float64)[:length])
        start = int(rng.integers(0, length - len(layer) + 1))
        bed[start : start + len(layer)] += layer * 10 ** (rng.uniform(*gain_db) / 20)
    if under is not None:
        floor = _normalised(fit_noise(under, length, rng).astype(np.float64))
        bed += floor * 10 ** (rng.uniform(*AMBIENCE_UNDER_DB) / 20) * max(active_rms(bed, RATE), 1e-3)
    peak = np.abs(bed).max()
    return (bed * (PEAK / peak) if peak > 0 else bed).astype(np.float32)


def effect_beds(effects: list[np.ndarray], ambiences: list[np.ndarray], count: int, seed: int) -> list[np.ndarray]:
    """`count` beds of 4-8 effects each over a piece of ambience (all from one split)."""
    rng = np.random.default_rng(seed)
    beds = []
    for _ in range(count if effects else 0):
        chosen = [effects[int(i)] for i in rng.integers(0, len(effects), int(rng.integers(*EFFECTS_PER_BED)))]
        under = ambiences[int(rng.integers(0, len(ambiences)))] if ambiences else None
        beds.append(lay_bed(chosen, rng, under=under))
    return beds


def babble_beds(voices: dict[str, list[np.ndarray]], count: int, seed: int) -> list[np.ndarray]:
    """`count` beds of 3-10 different speakers (utterances laid end to end per speaker), summed."""
    rng = np.random.default_rng(seed)
    speakers = sorted(voices)
    beds = []
    for _ in range(count if len(speakers) >= BABBLE_VOICES[0] else 0):
        n = min(len(speakers), int(rng.integers(*BABBLE_VOICES)))
        talkers = []
        for index in rng.choice(len(speakers), n, replace=False):
            takes = voices[speakers[int(index)]]
            order = rng.permutation(len(takes))
            talkers.append(fit_noise(np.concatenate([takes[int(i)] for i in order]), int(BED_S * RATE), rng))
        beds.append(lay_bed(talkers, rng, gain_db=(-6.0, 0.0)))
    return beds
