"""The plots people look at: each figure is caught before it is saved and checked for what it must show."""

import csv

import numpy as np
import pytest

import cmkt.evaluation.report as report
from cmkt.evaluation.score import ScoreResult
from cmkt.evaluation.stats import mean_ci


@pytest.fixture
def figures(monkeypatch, tmp_path):
    """Every figure a plot function saves, kept open for the test to read."""
    caught = []

    def keep(fig, path):
        caught.append(fig)
        fig.savefig(path)

    monkeypatch.setattr(report, "_save", keep)
    return caught


def test_interval_bars_stop_at_the_metric_range():
    near_one = mean_ci([0.97, 0.999])  # n = 2: a wide t-interval that would reach above 1
    low_pesq = mean_ci([1.05, 1.6])
    bars = report.interval_bars([near_one, low_pesq], (None, 1.0))
    assert near_one.mean + bars[1, 0] == pytest.approx(1.0) and bars[0, 0] == pytest.approx(near_one.half_width)
    pesq = report.interval_bars([low_pesq], (1.04, 4.64))
    assert low_pesq.mean - pesq[0, 0] == pytest.approx(1.04)
    assert pesq[1, 0] == pytest.approx(min(low_pesq.half_width, 4.64 - low_pesq.mean))
    assert report.interval_bars([mean_ci([2.0])], (None, None)).tolist() == [[0.0], [0.0]]  # n = 1: no bar


def test_score_bars_never_draw_an_interval_past_the_metric_range(figures, tmp_path):
    results = [ScoreResult("a", [{"file": "x", "stoi": 0.97}, {"file": "y", "stoi": 0.999}])]
    report.plot_score_bars(tmp_path / "s.png", results, ("stoi",))
    tops = [segment[:, 1].max() for segment in figures[0].axes[0].collections[0].get_segments()]
    assert max(tops) <= 1.0 + 1e-9


def test_training_curves_name_both_validation_lines(figures, tmp_path):
    log = tmp_path / "log.csv"
    with log.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["step", "l_se", "l_cma", "val_pesq_wb", "val_stoi"])
        writer.writeheader()
        writer.writerows(
            [{"step": s, "l_se": 1 / s, "l_cma": 0.5, "val_pesq_wb": 1 + s / 10, "val_stoi": 0.8} for s in (1, 2)]
        )
    report.plot_training_curves(log, tmp_path / "curves.png")
    validation = figures[0].axes[1]
    assert [t.get_text() for t in validation.get_legend().get_texts()] == ["PESQ-WB", "STOI"]


def test_alignment_has_a_colour_bar(figures, tmp_path):
    report.plot_alignment(tmp_path / "a.png", np.random.default_rng(0).random((4, 30)), 62.5, "t")
    assert len(figures[0].axes) == 2 and figures[0].axes[1].get_ylabel() == "alignment weight"


def test_snr_histogram_bars_of_the_splits_do_not_overlap(figures, tmp_path):
    rng = np.random.default_rng(0)
    report.plot_snr_histogram(
        tmp_path / "h.png", {s: list(rng.uniform(-5, 20, 50)) for s in ("train", "valid", "test")}
    )
    spans = sorted((p.get_x(), p.get_x() + p.get_width()) for p in figures[0].axes[0].patches if p.get_height() > 0)
    assert all(a[1] <= b[0] + 1e-9 for a, b in zip(spans, spans[1:]))


def test_paired_differences_draw_each_systems_interval_and_seeds_against_zero(figures, tmp_path):
    differences = {
        "a": {"pesq_wb": (mean_ci([0.1, 0.2, 0.3]), [0.1, 0.2, 0.3])},
        "b": {"pesq_wb": (mean_ci([-0.1, 0.0, 0.1]), [-0.1, 0.0, 0.1])},
    }
    report.plot_paired_differences(tmp_path / "d.png", differences, "baseline")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"] and "minus baseline" in ax.get_title()
    bars = ax.collections[0].get_segments()  # the interval of each system, in row order
    assert bars[0][:, 0].tolist() == pytest.approx(
        [0.2 - mean_ci([0.1, 0.2, 0.3]).half_width, 0.2 + mean_ci([0.1, 0.2, 0.3]).half_width]
    )
    seeds = [line.get_xdata().tolist() for line in ax.get_lines() if line.get_marker() == "o"]
    assert seeds == [[0.1, 0.2, 0.3], [-0.1, 0.0, 0.1]]
    assert any(line.get_xdata()[0] == 0.0 and line.get_linestyle() == "--" for line in ax.get_lines())
