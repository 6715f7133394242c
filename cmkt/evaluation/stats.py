"""Means with confidence intervals and paired tests: what makes a score table readable.

Intervals use Student's t (files are few per group), the paired test is Wilcoxon's signed-rank
test (no normality assumed, the common choice in SE papers), both from scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Estimate:
    mean: float
    half_width: float  # of the 95% interval
    n: int

    def text(self, digits: int = 3) -> str:
        if self.n == 0:
            return "-"
        return f"{self.mean:.{digits}f} ± {self.half_width:.{digits}f}" if self.n > 1 else f"{self.mean:.{digits}f}"


def mean_ci(values, confidence: float = 0.95) -> Estimate:
    """Mean and half-width of its t-interval; NaNs (failed files) are left out."""
    from scipy import stats

    data = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if len(data) == 0:
        return Estimate(math.nan, math.nan, 0)
    if len(data) == 1:
        return Estimate(float(data[0]), math.nan, 1)
    sem = data.std(ddof=1) / math.sqrt(len(data))
    return Estimate(float(data.mean()), float(sem * stats.t.ppf(0.5 + confidence / 2, len(data) - 1)), len(data))


@dataclass
class PairedDifference:
    difference: Estimate  # of (a - b) over the items both have
    p_value: float  # Wilcoxon signed-rank, two-sided


def paired_difference(a: dict[str, float], b: dict[str, float]) -> PairedDifference:
    """Compare two systems on the items both scored (keyed by file)."""
    from scipy import stats

    keys = [k for k in a if k in b and not math.isnan(a[k]) and not math.isnan(b[k])]
    diffs = np.array([a[k] - b[k] for k in keys])
    p_value = math.nan
    if len(diffs) > 1 and np.any(diffs != 0):
        p_value = float(stats.wilcoxon(diffs).pvalue)
    return PairedDifference(mean_ci(diffs), p_value)
