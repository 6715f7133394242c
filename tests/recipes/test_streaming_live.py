"""recipes/streaming/live.py: real-time-sized blocks from a WAV give the offline result."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from cmkt.inference.enhancer import enhance_array, load_enhancer

LIVE = Path(__file__).resolve().parents[2] / "recipes" / "streaming" / "live.py"


def test_live_loop_reports_latency_and_matches_offline(trained_model, tmp_path):
    noisy = (0.1 * np.random.default_rng(0).standard_normal(16000 * 2)).astype(np.float32)
    sf.write(tmp_path / "noisy.wav", noisy, 16000, subtype="FLOAT")
    done = subprocess.run(
        [
            sys.executable,
            str(LIVE),
            str(tmp_path / "noisy.wav"),
            "-o",
            str(tmp_path / "live.wav"),
            "--model",
            str(trained_model),
            "--block-ms",
            "10",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "algorithmic latency 32 ms" in done.stdout and "blocks over their deadline" in done.stdout
    live, _ = sf.read(tmp_path / "live.wav", dtype="float32")
    np.testing.assert_allclose(live, enhance_array(load_enhancer(trained_model), noisy, 16000), atol=1e-4)
