import math

import numpy as np
from scipy import stats as scipy_stats

from cmkt.evaluation.stats import mean_ci, paired_difference


def test_interval_is_students_t_and_skips_failed_files():
    values = [1.0, 2.0, 4.0, 7.0, float("nan")]
    estimate = mean_ci(values)
    data = np.array(values[:4])
    low, high = scipy_stats.t.interval(0.95, 3, loc=data.mean(), scale=scipy_stats.sem(data))
    assert estimate.n == 4 and math.isclose(estimate.mean, 3.5)
    assert math.isclose(estimate.mean - estimate.half_width, low) and math.isclose(
        estimate.mean + estimate.half_width, high
    )
    assert mean_ci([]).n == 0 and mean_ci([]).text() == "-"


def test_paired_difference_uses_shared_files_and_wilcoxon():
    rng = np.random.default_rng(0)
    a = {f"f{i}": float(v) for i, v in enumerate(rng.normal(3.0, 0.3, 30))}
    b = {k: v - 0.2 + float(rng.normal(0, 0.05)) for k, v in a.items()}
    b["only_in_b"] = 1.0
    result = paired_difference(a, b)
    diffs = np.array([a[k] - b[k] for k in a])
    assert result.difference.n == 30 and math.isclose(result.difference.mean, diffs.mean())
    assert math.isclose(result.p_value, scipy_stats.wilcoxon(diffs).pvalue) and result.p_value < 1e-4
    same = paired_difference(a, dict(a))
    assert same.difference.mean == 0 and math.isnan(same.p_value)
