"""Splits by speaker and by recording, never by file: a held-out voice or noise is never trained on.

Every choice is a hash of the seed and the unit's name, so the same sources give the same split
on every machine and adding a source never moves a unit of another one.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from typing import Iterable

# SpeechOcean762 speakers held out, stratified by gender and child/adult (the issue: >= 25 and >= 15)
SO762_TEST, SO762_VALID = 26, 16
CHILD_AGE = 12
OTHER_TEST_SHARE, OTHER_VALID_SHARE = 0.15, 0.1  # whole narrators of the smaller speech sources
NOISE_TEST_SHARE, NOISE_VALID_SHARE = 0.15, 0.1  # of the recordings of each noise family


def _order(units: Iterable[str], seed: int) -> list[str]:
    return sorted(set(units), key=lambda unit: hashlib.sha1(f"{seed}:{unit}".encode()).hexdigest())


def quota_split(strata: dict[str, list[str]], test: int, valid: int, seed: int) -> dict[str, str]:
    """`test` and `valid` units (at least) spread over the strata in proportion to their sizes."""
    total = sum(len(set(units)) for units in strata.values())
    split: dict[str, str] = {}
    for name in sorted(strata):
        ordered = _order(strata[name], seed)
        n_test = math.ceil(len(ordered) * test / total) if total else 0
        n_valid = math.ceil(len(ordered) * valid / total) if total else 0
        for index, unit in enumerate(ordered):
            split[unit] = "test" if index < n_test else "valid" if index < n_test + n_valid else "train"
    return split


def share_split(units: Iterable[str], test_share: float, valid_share: float, seed: int) -> dict[str, str]:
    """A share of whole units held out (rounded up for test, so the share is a floor); at least one
    for test, and one for valid from three units on."""
    ordered = _order(units, seed)
    n_test = max(1, math.ceil(len(ordered) * test_share)) if ordered else 0
    n_valid = max(1, round(len(ordered) * valid_share)) if len(ordered) >= 3 else 0
    return {
        unit: "test" if i < n_test else "valid" if i < n_test + n_valid else "train" for i, unit in enumerate(ordered)
    }


def speaker_splits(speakers: dict[str, tuple[str, str, int | None]], seed: int) -> dict[str, str]:
    """speaker -> split, from speaker -> (source, gender, age).

    SpeechOcean762 keeps SO762_TEST/SO762_VALID speakers out, balanced over gender x child/adult;
    every other source keeps a share of its whole narrators out."""
    strata: dict[str, list[str]] = defaultdict(list)
    others: dict[str, list[str]] = defaultdict(list)
    for speaker, (source, gender, age) in speakers.items():
        if source == "speechocean762":
            strata[f"{gender or '?'}-{'child' if age is not None and age <= CHILD_AGE else 'adult'}"].append(speaker)
        else:
            others[source].append(speaker)
    split = quota_split(strata, SO762_TEST, SO762_VALID, seed)
    for source in sorted(others):
        split.update(share_split(others[source], OTHER_TEST_SHARE, OTHER_VALID_SHARE, seed))
    return split


def noise_splits(recordings: dict[str, str], seed: int) -> dict[str, str]:
    """recording -> split, from recording -> stratum (family and ambience/effect): every stratum,
    hence every family, reaches the test split with its share of whole recordings."""
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for recording, stratum in recordings.items():
        by_stratum[stratum].append(recording)
    split: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        split.update(share_split(by_stratum[stratum], NOISE_TEST_SHARE, NOISE_VALID_SHARE, seed))
    return split
