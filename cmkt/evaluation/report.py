"""What a person looks at: score tables (terminal + Markdown), bar plots, curves, spectrograms."""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path

import numpy as np
from rich.table import Table

from cmkt.util.atomic_files import atomic_path, write_text_atomic
from cmkt.evaluation.metrics import METRIC_RANGES
from cmkt.evaluation.stats import mean_ci, paired_difference


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)


def score_table(results, metrics: tuple[str, ...], title: str = "mean scores (± 95% interval over files)") -> Table:
    """Systems as rows, metric means with intervals as columns, with counts of scored and failed files."""
    table = Table(title=title)
    table.add_column("system", overflow="fold")  # a narrow terminal folds a cell, never cuts a number to "1.0…"
    for metric in metrics:
        table.add_column(metric, justify="right", overflow="fold")
    table.add_column("files", justify="right", overflow="fold")
    table.add_column("failed", justify="right", overflow="fold")
    for result in results:
        table.add_row(
            result.system,
            *[mean_ci(result.values(m).values()).text() for m in metrics],
            str(len(result.ok)),
            str(len(result.failed)),
        )
    return table


def group_values(results, column: str) -> list[str]:
    return sorted({r.get(column, "") for result in results for r in result.ok} - {""}, key=_natural)


def _natural(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def grouped_tables(results, metrics: tuple[str, ...], by: list[str]) -> list[Table]:
    """One table per grouping column: (value, system) rows with means ± 95% intervals."""
    tables = []
    for column in by:
        table = Table(title=f"by {column} (± 95% interval)")
        for name in (column, "system", *metrics, "files"):
            table.add_column(name, justify="right" if name in metrics or name == "files" else "left", overflow="fold")
        for value in group_values(results, column):
            for result in results:
                rows = [r for r in result.ok if r.get(column) == value]
                if rows:
                    table.add_row(
                        value, result.system, *[mean_ci([r[m] for r in rows]).text() for m in metrics], str(len(rows))
                    )
        tables.append(table)
    return tables


def summary_dict(results, metrics: tuple[str, ...], by: list[str] = ()) -> dict:
    """Everything the tables show, as JSON-ready numbers."""

    def block(rows):
        out = {}
        for m in metrics:
            est = mean_ci([r[m] for r in rows])
            out[m] = {"mean": _num(est.mean), "ci95": _num(est.half_width), "n": est.n}
        return out

    summary = {"metrics": list(metrics), "systems": {}, "groups": {}}
    for result in results:
        summary["systems"][result.system] = {
            **block(result.ok),
            "files": len(result.rows),
            "failed": len(result.failed),
            "warnings": sum(1 for r in result.rows if r.get("warning")),
        }
    for column in by:
        summary["groups"][column] = {
            value: {result.system: block([r for r in result.ok if r.get(column) == value]) for result in results}
            for value in group_values(results, column)
        }
    return summary


def _num(value: float):
    return None if value != value else round(value, 4)  # NaN -> null in JSON


def cell(text) -> str:
    """A name or value as Markdown table text: HTML is shown, never rendered; a | cannot split the row."""
    return html.escape(str(text), quote=True).replace("|", "\\|")


def score_markdown(results, metrics: tuple[str, ...], by: list[str] = ()) -> str:
    lines = ["| system | " + " | ".join(metrics) + " | files |", "|---" * (len(metrics) + 2) + "|"]
    for result in results:
        lines.append(
            f"| {cell(result.system)} | "
            + " | ".join(mean_ci(result.values(m).values()).text() for m in metrics)
            + f" | {len(result.ok)} |"
        )
    for column in by:
        lines += [
            "",
            f"By {cell(column)}:",
            "",
            f"| {cell(column)} | system | " + " | ".join(metrics) + " | files |",
            "|---" * (len(metrics) + 3) + "|",
        ]
        for value in group_values(results, column):
            for result in results:
                rows = [r for r in result.ok if r.get(column) == value]
                if rows:
                    lines.append(
                        f"| {cell(value)} | {cell(result.system)} | "
                        + " | ".join(mean_ci([r[m] for r in rows]).text() for m in metrics)
                        + f" | {len(rows)} |"
                    )
    return "\n".join(lines) + "\n\nMeans ± half-width of the 95% t-interval over files.\n"


def write_summary(folder: str | Path, results, metrics: tuple[str, ...], by: list[str] = ()) -> None:
    """summary.md (tables) and summary.json (the same numbers) in `folder`."""
    folder = Path(folder)
    write_text_atomic(folder / "summary.md", score_markdown(results, metrics, by))
    write_text_atomic(folder / "summary.json", json.dumps(summary_dict(results, metrics, by), indent=1) + "\n")


def plot_score_bars(path: str | Path, results, metrics: tuple[str, ...], group: str | None = None) -> None:
    """One panel per metric: mean with its 95% interval per system (per group value side by side)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.4), squeeze=False)
    values = group_values(results, group) if group else [None]
    width = 0.8 / len(results)
    palette = plt.cm.tab10.colors if len(results) <= 10 else plt.cm.tab20.colors  # no two systems share a colour
    for ax, metric in zip(axes[0], metrics):
        for index, result in enumerate(results):
            estimates = [
                mean_ci([r[metric] for r in result.ok if value is None or r.get(group) == value]) for value in values
            ]
            positions = np.arange(len(values)) + (index - (len(results) - 1) / 2) * width
            ax.bar(
                positions,
                [e.mean for e in estimates],
                width,
                yerr=interval_bars(estimates, METRIC_RANGES.get(metric, (None, None))),
                capsize=3,
                label=result.system,
                color=palette[index % len(palette)],
            )
        ax.set_xticks(np.arange(len(values)), [str(v) for v in values] if group else [""])
        ax.set_title(metric)
        if group:
            ax.set_xlabel(group)
    fig.suptitle("mean per system, bars = 95% interval over files", fontsize=9)
    fig.tight_layout()
    # beside the panels, not in one: with many systems a legend inside would hide bars
    fig.legend(
        *axes[0][0].get_legend_handles_labels(), fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    _save(fig, path)


def plot_paired_differences(
    path: str | Path, differences: dict[str, dict[str, tuple[object, list[float]]]], reference: str
) -> None:
    """One panel per metric: each system minus `reference` (interval over seeds as a bar, each seed a dot)
    against a zero line, so a gain reads as a bar clear of zero. `differences`: system -> metric ->
    (Estimate over seeds, per-seed values)."""
    plt = _pyplot()
    systems = list(differences)
    metrics = list(next(iter(differences.values()))) if systems else []
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 0.5 * len(systems) + 1.4), squeeze=False)
    rows = np.arange(len(systems))
    for ax, metric in zip(axes[0], metrics):
        estimates = [differences[s][metric][0] for s in systems]
        ax.errorbar(
            [e.mean for e in estimates],
            rows,
            xerr=[e.half_width if e.n > 1 else 0.0 for e in estimates],
            fmt="s",
            color="black",
            capsize=3,
        )
        for row, system in zip(rows, systems):
            seeds = differences[system][metric][1]
            ax.plot(seeds, [row] * len(seeds), "o", color="tab:blue", alpha=0.5, markersize=4)
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yticks(rows, systems if ax is axes[0][0] else [""] * len(systems))
        ax.invert_yaxis()
        ax.set_title(f"{metric} minus {reference}", fontsize=9)
    fig.suptitle("paired difference: mean over seeds, bar = 95% t-interval over seeds, dots = seeds", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def plot_score_set(
    path: Path, results, metrics: tuple[str, ...], groups: tuple[str, ...] | list[str] = ()
) -> list[Path]:
    """`path` (every file) and PATH-STEM_by_COLUMN.png beside it for each grouping column; returns them all."""
    plots = [path] + [path.with_name(f"{path.stem}_by_{column}.png") for column in groups]
    for plot, group in zip(plots, (None, *groups)):
        plot_score_bars(plot, results, metrics, group)
    return plots


def interval_bars(estimates: list, bounds: tuple[float | None, float | None]) -> np.ndarray:
    """(2, n) lower and upper error-bar lengths: the 95% interval, cut where the metric's range ends
    (a STOI interval never reaches above 1, a PESQ interval never below its floor)."""
    low, high = bounds
    bars = np.zeros((2, len(estimates)))
    for i, estimate in enumerate(estimates):
        half = 0.0 if math.isnan(estimate.half_width) else estimate.half_width
        bars[0, i] = half if low is None else max(0.0, min(half, estimate.mean - low))
        bars[1, i] = half if high is None else max(0.0, min(half, high - estimate.mean))
    return np.nan_to_num(bars)


def paired_differences(results, metrics: tuple[str, ...], reference: str) -> list[tuple[str, list]]:
    """(system, its PairedDifference against `reference` per metric) for every system but the reference."""
    by_name = {r.system: r for r in results}
    return [
        (r.system, [paired_difference(r.values(m), by_name[reference].values(m)) for m in metrics])
        for r in results
        if r.system != reference
    ]


def comparison_markdown(results, metrics: tuple[str, ...], reference: str, noisy: str = "noisy") -> str:
    """Side by side, paired differences against `reference`, and per-language gains over `noisy`."""
    by_name = {r.system: r for r in results}
    lines = [score_markdown(results, metrics)]
    lines += [
        f"## Paired differences against {cell(reference)}",
        "",
        "| system | " + " | ".join(f"Δ {m}" for m in metrics) + " |",
        "|---" * (len(metrics) + 1) + "|",
    ]
    for system, diffs in paired_differences(results, metrics, reference):
        cells = [f"{d.difference.text()} (p={d.p_value:.3g}, n={d.difference.n})" for d in diffs]
        lines.append(f"| {cell(system)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Δ = system − reference on the files both scored: mean ± 95% t-interval; "
        "p = two-sided Wilcoxon signed-rank test.",
        "",
    ]
    languages = group_values(results, "lang")
    if noisy in by_name and len(languages) > 1:
        lines += [
            f"## Gain over {cell(noisy)} per language",
            "",
            "| system | metric | " + " | ".join(cell(lang) for lang in languages) + " | gap (max − min) |",
            "|---" * (len(languages) + 3) + "|",
        ]
        for result in results:
            if result.system == noisy:
                continue
            for m in metrics:
                gains = []
                for lang in languages:
                    mine = {r["file"]: r[m] for r in result.ok if r.get("lang") == lang}
                    gains.append(paired_difference(mine, by_name[noisy].values(m)).difference)
                means = [g.mean for g in gains if g.n]
                gap = max(means) - min(means) if means else math.nan
                lines.append(
                    f"| {cell(result.system)} | {m} | " + " | ".join(g.text() for g in gains) + f" | {gap:.3f} |"
                )
        lines += [
            "",
            "Gain = system − noisy per file, averaged within each language (± 95% t-interval); the gap is how "
            "unevenly the system helps across languages (METHOD.md section 4).",
            "",
        ]
    return "\n".join(lines)


def plot_training_curves(log_csv: str | Path, path: str | Path) -> None:
    """Training loss terms and validation scores against steps."""
    with open(log_csv, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    plt = _pyplot()
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.5))
    steps = [int(r["step"]) for r in rows]
    for key in ("l_se", "l_cma", "l_ssl"):
        values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
        if len(values) != len(rows):
            continue
        if any(values):
            ax_loss.plot(steps, values, label=key)
    ax_loss.set_xlabel("step")
    ax_loss.set_title("training losses (means over 10 steps)")
    ax_loss.legend()
    val = [(int(r["step"]), float(r["val_pesq_wb"]), float(r["val_stoi"])) for r in rows if r.get("val_pesq_wb")]
    if val:
        ax_val.plot([v[0] for v in val], [v[1] for v in val], "o-", label="PESQ-WB")
        ax_stoi = ax_val.twinx()
        ax_stoi.plot([v[0] for v in val], [v[2] for v in val], "s--", color="tab:orange", label="STOI")
        ax_stoi.set_ylabel("STOI")
        ax_val.set_ylabel("PESQ-WB")
        lines = ax_val.get_legend_handles_labels(), ax_stoi.get_legend_handles_labels()
        ax_val.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], fontsize=8, loc="lower right")
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


def plot_snr_histogram(path: str | Path, snrs_by_split: dict[str, list[float]]) -> None:
    """How the mixtures' SNRs are spread, per split."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    values = [v for vs in snrs_by_split.values() for v in vs]
    bins = np.linspace(min(values) - 0.5, max(values) + 0.5, min(40, max(5, len(set(values)) * 2)) + 1)
    shown = {split: snrs for split, snrs in snrs_by_split.items() if snrs}
    # the splits' bars side by side in each bin, never drawn over one another
    ax.hist(list(shown.values()), bins=bins, label=[f"{split} ({len(snrs)})" for split, snrs in shown.items()])
    ax.set_xlabel("SNR (dB, on active speech)")
    ax.set_ylabel("utterances")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def plot_alignment(path: str | Path, weights: np.ndarray, frame_rate: float, title: str) -> None:
    """A bridge's alignment (tokens x frames), the picture METHOD.md asks for."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    image = ax.imshow(
        weights,
        aspect="auto",
        origin="lower",
        cmap="viridis",
        interpolation="nearest",
        extent=(0, weights.shape[1] / frame_rate, -0.5, weights.shape[0] - 0.5),
    )
    ax.set_xlabel("seconds")
    ax.set_ylabel("token")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="alignment weight", pad=0.01)
    fig.tight_layout()
    _save(fig, path)


def plot_spectrogram_image(
    path: str | Path, power_db: np.ndarray, sample_rate: int, scale: tuple[float, float]
) -> None:
    """A small spectrogram (dB, `scale` = the page's one colour range) for a listening page's player."""
    plt = _pyplot()
    frames = power_db.shape[1]
    fig, ax = plt.subplots(figsize=(3.6, 1.5))
    ax.imshow(
        power_db,
        aspect="auto",
        origin="lower",
        cmap="magma",
        vmin=scale[0],
        vmax=scale[1],
        extent=(0, frames * (power_db.shape[0] - 1) * 2 / 4 / sample_rate, 0, sample_rate / 2000),
        interpolation="nearest",
    )
    ax.set_ylabel("kHz", fontsize=7)
    ax.tick_params(labelsize=6)
    _save(fig, path)


def plot_colour_scale(path: str | Path, scale: tuple[float, float]) -> None:
    """The listening page's one colour bar: what every spectrogram's colours mean in dB."""
    plt = _pyplot()
    import matplotlib as mpl

    fig, ax = plt.subplots(figsize=(4.0, 0.45))
    norm = mpl.colors.Normalize(vmin=scale[0], vmax=scale[1])
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap="magma"), cax=ax, orientation="horizontal")
    ax.set_xlabel("dB re full scale (after loudness matching)", fontsize=7)
    ax.tick_params(labelsize=7)
    _save(fig, path)
