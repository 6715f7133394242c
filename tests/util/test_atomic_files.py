"""Atomic writes: a killed writer's temporary is cleared by the next write; a live writer's is left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cmkt.errors import CmktError
from cmkt.util.atomic_files import atomic_path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temporary_is_removed_and_a_live_writers_is_kept(tmp_path):
    final = tmp_path / "f2.wav"
    dead = tmp_path / f".f2.tmp{_dead_pid()}.wav"
    live = tmp_path / f".f2.tmp{os.getppid()}.wav"
    dead.write_bytes(b"RIFF")  # cut short, as a kill -9 mid-write leaves it
    live.write_bytes(b"RIFF")
    tone = np.sin(2 * np.pi * 440 * np.arange(1600) / 16000).astype(np.float32)
    with atomic_path(final) as tmp:
        sf.write(str(tmp), tone, 16000)
    assert not dead.exists()
    assert live.exists()
    np.testing.assert_allclose(sf.read(str(final), dtype="float32")[0], tone, atol=1e-4)


def test_a_failed_write_leaves_neither_the_final_file_nor_a_temporary(tmp_path):
    final = tmp_path / "out.wav"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("writer crashed")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CmktError, match="choose a writable folder"):
        with atomic_path(blocker / "sub" / "out.wav"):
            pass
