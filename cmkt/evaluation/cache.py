"""Scores of unchanged files, kept between `cmkt score` runs into the same folder.

A benchmark grows one system at a time; re-scoring every earlier system (PESQ and DNSMOS on
every file) is most of its cost. A cached value is reused only while the reference, the estimate
and the noisy input all keep their path, size and modification time, and only for the metric it
was computed for, so adding a metric computes just that metric. Errors are never cached.
"""

from __future__ import annotations

import json
from pathlib import Path

from cmkt.util.atomic_files import write_text_atomic

CACHE_FORMAT = 1  # bump when a metric's implementation changes what it returns


def _fingerprint(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        stat = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def pair_key(reference: Path, estimate: Path | None, noisy: Path | None) -> str:
    """What a score depends on: the three files as they are now."""
    return "|".join(_fingerprint(p) for p in (reference, estimate, noisy))


class ScoreCache:
    """{pair key: {"metrics": {name: value}, "warning": text}} in one JSON file, saved atomically."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        if self.path.is_file():
            try:
                stored = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                stored = {}  # a damaged cache only costs a re-score
            if stored.get("format") == CACHE_FORMAT:
                self.entries = stored.get("entries", {})

    def lookup(self, key: str, metrics: tuple[str, ...]) -> tuple[dict[str, float], str]:
        """The cached values among `metrics` for this pair, and the warning stored with them."""
        entry = self.entries.get(key, {})
        values = entry.get("metrics", {})
        return {m: values[m] for m in metrics if m in values}, entry.get("warning", "")

    def store(self, key: str, row: dict, metrics: tuple[str, ...]) -> None:
        """Remember a successfully scored row's values of `metrics`."""
        if row.get("error"):
            return
        entry = self.entries.setdefault(key, {"metrics": {}, "warning": ""})
        entry["metrics"].update({m: row[m] for m in metrics if m in row})
        entry["warning"] = row.get("warning", "")

    def save(self) -> None:
        write_text_atomic(self.path, json.dumps({"format": CACHE_FORMAT, "entries": self.entries}))
