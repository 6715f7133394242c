"""What `cmkt score` and `cmkt compare` do, as library calls: check the request, score every
system, merge runs, and write the tables, plots and reports. The CLI only parses and prints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cmkt.errors import CmktError
from cmkt.evaluation.audio_index import read_audio_indexes, write_audio_index
from cmkt.evaluation.cache import ScoreCache
from cmkt.evaluation.metrics import DNSMOS_METRICS, METRIC_INPUTS, dnsmos_available
from cmkt.evaluation.report import comparison_markdown, plot_score_set, write_summary
from cmkt.evaluation.score import (
    GROUP_COLUMNS,
    merge_results,
    pairs_from_folders,
    pairs_from_manifest,
    read_scores_csv,
    score_pairs,
    write_scores_csv,
)
from cmkt.util.atomic_files import write_text_atomic


@dataclass
class ScoreRequest:
    """One `cmkt score`: references (folders/files or a manifest), the systems' estimates, metrics and groups."""

    metrics: tuple[str, ...]
    estimates: list[str]  # NAME=PATH or PATH (the name is then the folder's)
    ref: Path | None = None
    manifest: Path | None = None
    groups: tuple[str, ...] = ()
    noisy_row: bool = True  # with a manifest, also score the noisy input as "noisy"
    notes: tuple[str, ...] = ()  # what was left out and why (set by `checked`)

    def checked(self) -> ScoreRequest:
        """The request with DNSMOS left out where its extra is missing (and a note), or a one-line error."""
        unknown = [m for m in self.metrics if m not in METRIC_INPUTS]
        if unknown:
            raise CmktError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRIC_INPUTS)}")
        metrics, notes = self.metrics, ()
        if any(m in DNSMOS_METRICS for m in metrics) and not dnsmos_available():
            metrics = tuple(m for m in metrics if m not in DNSMOS_METRICS)
            notes = ("DNSMOS skipped: it needs the optional extra, pip install 'cmkt[dnsmos]'",)
        if (self.ref is None) == (self.manifest is None):
            raise CmktError("give either --ref (folders or files) or --manifest (from `cmkt prep`)")
        if "snr_gain" in metrics and self.manifest is None:
            raise CmktError("snr_gain needs the noisy inputs: score with --manifest instead of --ref")
        if self.manifest is None and not self.estimates:
            raise CmktError("give at least one --est (an enhanced folder or file)")
        if self.groups and self.manifest is None:
            raise CmktError("--by needs --manifest (the groups are manifest columns)")
        bad_groups = [g for g in self.groups if g not in GROUP_COLUMNS]
        if bad_groups:
            raise CmktError(
                f"--by {', '.join(bad_groups)}: not a manifest column; choose from {', '.join(GROUP_COLUMNS)}"
            )
        return ScoreRequest(metrics, self.estimates, self.ref, self.manifest, self.groups, self.noisy_row, notes)

    def pairs(self) -> dict[str, list]:
        """Every system's (reference, estimate) pairs, by system name."""
        return {
            name: pairs_from_manifest(self.manifest, path)
            if self.manifest is not None
            else pairs_from_folders(self.ref, path)
            for name, path in self.systems()
        }

    def systems(self) -> list[tuple[str, str | None]]:
        """(name, estimate folder or file; None for the noisy input) of every system to score."""
        found: list[tuple[str, str | None]] = [("noisy", None)] if self.manifest is not None and self.noisy_row else []
        for spec in self.estimates:
            name, _, path = spec.rpartition("=") if "=" in spec else (Path(spec).name, "", spec)
            found.append((name, path))
        return found


def score_systems(
    request: ScoreRequest, workers: int, shard: tuple[int, int] | None = None, cache: ScoreCache | None = None
) -> list:
    """Every system's per-file scores (a ScoreResult each), in `workers` processes."""
    return [score_pairs(pairs, name, request.metrics, workers, shard, cache) for name, pairs in request.pairs().items()]


def write_score_outputs(
    out: Path,
    results: list,
    metrics: tuple[str, ...],
    groups: tuple[str, ...],
    plot_name: str = "scores.png",
    audio: dict | None = None,
) -> dict[str, Path]:
    """scores.csv, summary.md/.json and the bar plots under `out` (`plot_name` overall, NAME_by_COLUMN per
    grouping column), and audio.json (`audio`: where each file's audio is, for `cmkt report`); returns their
    paths by kind ("plots": every plot)."""
    write_scores_csv(out / "scores.csv", results, metrics)
    write_summary(out, results, metrics, list(groups))
    plots = plot_score_set(out / plot_name, results, metrics, groups)
    if audio is not None:
        write_audio_index(out, audio)
    return {
        "scores": out / "scores.csv",
        "summary": out / "summary.md",
        "json": out / "summary.json",
        "plot": plots[0],
        "plots": plots,
    }


def load_runs(
    runs: list[Path], metrics: tuple[str, ...] = (), reference: str | None = None
) -> tuple[list, tuple[str, ...], str]:
    """The merged results of score runs (shards are joined), the metrics to compare and the reference system."""
    loaded = [(str(run), *read_scores_csv(run)) for run in runs]
    results = merge_results([(source, found) for source, found, _ in loaded])
    available = tuple(dict.fromkeys(m for _, _, ms in loaded for m in ms))
    chosen = metrics or available
    missing = [m for m in chosen if m not in available]
    if missing:
        raise CmktError(f"metric(s) {', '.join(missing)} are not in these runs; they have {', '.join(available)}")
    names = [r.system for r in results]
    reference = reference or next((n for n in names if n != "noisy"), names[0])
    if reference not in names:
        raise CmktError(f"--reference {reference!r} is not among the systems ({', '.join(names)})")
    return results, chosen, reference


def write_comparison(
    out: Path, results: list, metrics: tuple[str, ...], reference: str, groups: tuple[str, ...], runs: list[Path] = ()
) -> str:
    """report.md (means, paired differences against `reference`, per-language gains), comparison.png and
    the merged scores under `out`, with the runs' joined audio index where every run has one; returns the
    report's text."""
    report = comparison_markdown(results, metrics, reference)
    write_text_atomic(out / "report.md", "# Comparison\n\n" + report)
    try:
        audio = read_audio_indexes(list(runs)) if runs else None
    except CmktError:  # runs scored by an older cmkt: the comparison stands, only `cmkt report` needs the index
        audio = None
    write_score_outputs(out, results, metrics, groups, "comparison.png", audio)
    return report
