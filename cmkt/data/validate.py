"""Checking a manifest's audio before hours of training depend on it.

`read_manifest` checks the lines themselves (JSON, keys, types, duplicate ids, UTF-8, files that
exist); this reads what the lines point to: unreadable or empty audio, NaN/inf samples, and
clean/noisy pairs whose lengths disagree. Each problem names the manifest line and the fix.
"""

from __future__ import annotations

from pathlib import Path

from cmkt.audio import audio_seconds, read_audio
from cmkt.errors import CmktError
from cmkt.data.manifest import read_manifest
from cmkt.util.progress import progress_bar

PAIR_TOLERANCE_S = 0.05  # a clean/noisy pair may differ by this much (codec padding); prep uses it too


def validate_manifest(path: str | Path, read_samples: bool = True) -> list[str]:
    """Problems found, one line each ('' when clean); `read_samples=False` checks headers only (fast)."""
    utterances = read_manifest(path)
    problems = []
    with progress_bar(transient=True) as bar:
        task = bar.add_task(f"checking {Path(path).name}", total=len(utterances), status="")
        for lineno, utt in enumerate(utterances, start=1):
            bar.advance(task)
            where = f"{path}:{lineno} ({utt.id})"
            try:
                lengths = []
                for audio in [utt.clean] + ([utt.noisy] if utt.noisy else []):
                    lengths.append(read_audio(audio).duration_s if read_samples else audio_seconds(audio))
                if len(lengths) == 2 and abs(lengths[0] - lengths[1]) > PAIR_TOLERANCE_S:
                    problems.append(
                        f"{where}: clean and noisy differ by {abs(lengths[0] - lengths[1]):.2f} s; "
                        "the pair does not match, rerun `cmkt prep` or remove the line"
                    )
            except CmktError as exc:
                problems.append(f"{where}: {exc}")
    return problems
