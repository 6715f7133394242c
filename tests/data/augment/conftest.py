import numpy as np
import pytest
import soundfile as sf

from cmkt.data.augment.base import Example


def room_response(rt60: float = 0.5, sample_rate: int = 16000, delay: int = 80, seed: int = 0) -> np.ndarray:
    """A synthetic impulse response: a direct path at `delay` samples, then a noise tail decaying 60 dB in `rt60`."""
    length = int(rt60 * sample_rate)
    tail = np.random.default_rng(seed).standard_normal(length) * 0.3 * 10 ** (-3 * np.arange(length) / length)
    rir = np.zeros(delay + length, dtype=np.float32)
    rir[delay + 1 :] = tail[:-1]
    rir[delay] = 1.0
    return rir


@pytest.fixture
def rir_folder(tmp_path):
    folder = tmp_path / "rooms"
    folder.mkdir()
    for seed in range(3):
        sf.write(folder / f"room{seed}.wav", room_response(seed=seed), 16000, subtype="FLOAT")
    return folder


def example_of(
    target: np.ndarray, noise: np.ndarray | None = None, split: str = "train", noisy: np.ndarray | None = None
) -> Example:
    return Example(
        target=target,
        heard=target,
        noise=noise if noise is not None else target,
        sample_rate=16000,
        split=split,
        noisy=noisy,
    )
