"""Simulated rooms: impulse responses for open-test's reverberant condition and for training's reverb augmentation.

The two sets come from different seeds, so no room of open-test is trained on; training draws
from a wider RT60 range so that the test rooms sit inside what the model has heard."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cmkt.audio import write_audio
from cmkt.errors import CmktError

TEST_RT60 = (0.2, 0.8)
TRAIN_RT60 = (0.2, 1.0)  # below 0.2 s the largest rooms would need absorption above 1
TRAIN_ROOMS, TRAIN_SEED = 300, 20261202  # open-test's rooms use open_test.SEED (20261201)


def simulate_rooms(folder: Path, count: int, seed: int, rt60_range: tuple[float, float] = TEST_RT60) -> Path:
    """`count` shoebox rooms (pyroomacoustics image method), RT60 uniform in `rt60_range`, source and
    microphone anywhere half a metre from the walls."""
    try:
        import pyroomacoustics as pra
    except ImportError as exc:
        raise CmktError("pyroomacoustics is not installed; pip install 'cmkt[corpus]' to simulate rooms") from exc
    rng = np.random.default_rng(seed)
    for index in range(count):
        path = folder / f"room{index:03d}.wav"
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.5, 4)])
        rt60 = float(rng.uniform(*rt60_range))
        source, microphone = rng.uniform(0.5, dims - 0.5), rng.uniform(0.5, dims - 0.5)
        if path.is_file():  # simulated before: every draw above is still made, so later rooms stay the same
            continue
        absorption, max_order = pra.inverse_sabine(rt60, dims)
        room = pra.ShoeBox(dims, fs=16000, materials=pra.Material(absorption), max_order=min(max_order, 40))
        room.add_source(source)
        room.add_microphone(microphone)
        room.compute_rir()
        write_audio(path, np.asarray(room.rir[0][0], dtype=np.float32), 16000, "FLOAT")
    return folder


def train_rooms(out: Path, count: int = TRAIN_ROOMS) -> Path:
    """The rooms `cmkt train --augment reverb --rirs` draws from: out/rooms/train."""
    return simulate_rooms(out / "rooms" / "train", count, TRAIN_SEED, TRAIN_RT60)
