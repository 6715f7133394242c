"""Atomic file writing: a reader never sees a half-written output under its final name."""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import os
from pathlib import Path
from typing import Iterator

from cmkt.errors import CmktError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary name keeps the final suffix so that writers which infer the format from the
    extension (soundfile, torch, matplotlib) behave as for the final file.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CmktError(
            f"{final.parent}: cannot create output folder ({exc.strerror}); choose a writable folder"
        ) from exc
    remove_stale_temporaries(final)
    tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        raise CmktError(f"{final}: cannot write ({exc.strerror}); check free space and permissions") from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(final: Path) -> None:
    """Delete temporaries of `final` left by processes that died (kill -9, power loss) before renaming."""
    for tmp in final.parent.glob(f".{glob.escape(final.stem)}.tmp*{glob.escape(final.suffix)}"):
        pid_text = tmp.name[len(final.stem) + 5 : len(tmp.name) - len(final.suffix)]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            tmp.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) so that concurrent builders take turns.

    Advisory (fcntl.flock): every cmkt process that writes the guarded files takes it.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a small text file (manifest, JSON, CSV) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv_atomic(path: str | Path, fieldnames: list[str], rows: list[dict], delimiter: str = ",") -> None:
    """Write dict rows as CSV (or TSV with delimiter="\t", unquoted) atomically; unknown keys are ignored."""
    buffer = io.StringIO()
    style = {"quoting": csv.QUOTE_NONE, "escapechar": "\\"} if delimiter == "\t" else {}
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, extrasaction="ignore", delimiter=delimiter, **style)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
