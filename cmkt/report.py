"""What a person looks at: score tables (terminal + Markdown), bar plots, curves, spectrograms."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rich.table import Table

from cmkt.files import atomic_path, write_text_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)


def score_table(results, metrics: tuple[str, ...]) -> Table:
    """Systems as rows, metric means as columns, with counts of scored and failed files."""
    table = Table(title="mean scores")
    table.add_column("system")
    for metric in metrics:
        table.add_column(metric, justify="right")
    table.add_column("files", justify="right")
    table.add_column("failed", justify="right")
    for result in results:
        means = result.means(metrics)
        table.add_row(result.system, *[f"{means[m]:.3f}" for m in metrics], str(len(result.ok)), str(len(result.failed)))
    return table


def score_markdown(results, metrics: tuple[str, ...]) -> str:
    lines = ["| system | " + " | ".join(metrics) + " | files |", "|---" * (len(metrics) + 2) + "|"]
    for result in results:
        means = result.means(metrics)
        lines.append(f"| {result.system} | " + " | ".join(f"{means[m]:.3f}" for m in metrics) + f" | {len(result.ok)} |")
    return "\n".join(lines) + "\n"


def write_summary(path: str | Path, results, metrics: tuple[str, ...]) -> None:
    write_text_atomic(path, score_markdown(results, metrics))


def plot_score_bars(path: str | Path, results, metrics: tuple[str, ...]) -> None:
    """One panel per metric: mean with a 95% interval per system."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.2))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics):
        means, errors = [], []
        for result in results:
            values = np.array([r[metric] for r in result.ok])
            means.append(values.mean() if len(values) else np.nan)
            errors.append(1.96 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0)
        ax.bar([r.system for r in results], means, yerr=errors, capsize=4, color=plt.cm.tab10.colors[: len(results)])
        ax.set_title(metric)
        ax.tick_params(axis="x", rotation=30)
    fig.suptitle("mean per system, bars = 95% interval over files", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_training_curves(log_csv: str | Path, path: str | Path) -> None:
    """Training loss terms and validation scores against steps."""
    with open(log_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    plt = _pyplot()
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    steps = [int(r["step"]) for r in rows]
    for key in ("l_se", "l_cma"):
        values = [float(r[key]) for r in rows]
        if any(values):
            ax_loss.plot(steps, values, label=key)
    ax_loss.set_xlabel("step")
    ax_loss.set_title("training losses (logged every 10 steps)")
    ax_loss.legend()
    val = [(int(r["step"]), float(r["val_pesq_wb"]), float(r["val_stoi"])) for r in rows if r.get("val_pesq_wb")]
    if val:
        ax_val.plot([v[0] for v in val], [v[1] for v in val], "o-", label="PESQ-WB")
        ax_stoi = ax_val.twinx()
        ax_stoi.plot([v[0] for v in val], [v[2] for v in val], "s--", color="tab:orange", label="STOI")
        ax_stoi.set_ylabel("STOI")
        ax_val.set_ylabel("PESQ-WB")
    ax_val.set_xlabel("step")
    ax_val.set_title("validation")
    fig.tight_layout()
    _save(fig, path)


def plot_spectrograms(path: str | Path, signals: dict[str, np.ndarray], sample_rate: int) -> None:
    """Log-magnitude spectrograms stacked (e.g. clean / noisy / enhanced) for one utterance."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(signals), 1, figsize=(8, 2.2 * len(signals)), sharex=True)
    for ax, (name, signal) in zip(np.atleast_1d(axes), signals.items()):
        with np.errstate(divide="ignore"):  # digital silence has log(0) bins; they plot as the floor
            ax.specgram(signal, NFFT=512, Fs=sample_rate, noverlap=384, cmap="magma", vmin=-130)
        ax.set_ylabel("Hz")
        ax.set_title(name, fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel("seconds")
    fig.tight_layout()
    _save(fig, path)
