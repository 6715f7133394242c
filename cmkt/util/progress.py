"""Where output goes: progress, notes and errors to stderr (`console`); results to stdout (`results()`),
so `cmkt models | grep` and `cmkt score ... > table.txt` capture the results and nothing else."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
UNBOUNDED_WIDTH = 10_000  # a pipe or a file has no width: tables keep their natural width, nothing is cut


def results() -> Console:
    """A console on the current stdout: the terminal's width on a terminal, unbounded otherwise."""
    return Console(width=None if sys.stdout.isatty() else UNBOUNDED_WIDTH)


def progress_bar(transient: bool = False, disable: bool = False, unit: str | None = None) -> Progress:
    """A bar with counts (or amounts of `unit`, e.g. seconds of audio), elapsed and remaining time, on stderr."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed:.0f}}/{{task.total:.0f}} {unit}") if unit else MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
        transient=transient,
        disable=disable,
    )
