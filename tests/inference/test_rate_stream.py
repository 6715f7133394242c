"""Every rate the issue names, mono and stereo, through files in blocks, streams and arrays: the
output keeps the input's length, rate and channels, and every path gives the same samples."""

import numpy as np
import pytest
import soundfile as sf

from cmkt.inference.enhancer import enhance_array, enhance_file, load_enhancer
from cmkt.pretrained import DEFAULT_MODEL
from tests.conftest import tone


def _noisy(rate: int, channels: int, seconds: float = 0.9) -> np.ndarray:
    rng = np.random.default_rng(rate + channels)
    voice = tone(seconds, rate, 220.0, 0.2) + tone(seconds, rate, min(9000.0, rate / 2.5), 0.05)
    return (voice[None] + 0.03 * rng.standard_normal((channels, len(voice)))).astype(np.float32)


@pytest.mark.parametrize("rate", [22050, 24000, 32000, 44100, 48000, 96000])
def test_files_in_blocks_equal_the_whole_array_at_every_rate(rate, tmp_path):
    enhancer = load_enhancer(DEFAULT_MODEL)
    noisy = _noisy(rate, 2)
    sf.write(tmp_path / "in.wav", noisy.T, rate, subtype="FLOAT")
    enhance_file(enhancer, tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.17)
    written, written_rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    assert written_rate == rate and written.shape == noisy.T.shape
    whole = enhance_array(enhancer, noisy, rate)
    np.testing.assert_allclose(written.T, whole, atol=1e-5)
    assert not np.allclose(whole, enhance_array(load_enhancer(DEFAULT_MODEL, band="low"), noisy, rate), atol=1e-3)


def test_the_input_passes_unchanged_with_all_of_it_mixed_back(tmp_path):
    """dry 1 at 44.1 kHz: every delay in the chain (resamplers, model, high-band frames) lines up."""
    noisy = _noisy(44100, 1, 1.3)
    sf.write(tmp_path / "in.wav", noisy[0], 44100, subtype="FLOAT")
    enhance_file(load_enhancer(DEFAULT_MODEL, dry=1.0), tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.1)
    np.testing.assert_allclose(sf.read(tmp_path / "out.wav", dtype="float32")[0], noisy[0], atol=1e-5)


def test_a_new_output_rate_from_a_full_band_input(tmp_path):
    noisy = _noisy(48000, 1)
    sf.write(tmp_path / "in.wav", noisy[0], 48000, subtype="FLOAT")
    enhancer = load_enhancer(DEFAULT_MODEL)
    for out_rate in (44100, 16000):
        enhance_file(enhancer, tmp_path / "in.wav", tmp_path / f"{out_rate}.wav", block_seconds=0.2, out_rate=out_rate)
        written, rate = sf.read(tmp_path / f"{out_rate}.wav", dtype="float32")
        assert rate == out_rate and len(written) == -(-noisy.shape[1] * out_rate // 48000)


def test_a_model_that_cannot_stream_keeps_the_input_aligned_in_overlapped_windows(tmp_path):
    import torch

    from cmkt.registry import build_model, save_checkpoint
    from tests.models.test_backbones import SMALL

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tasnet.pt", build_model("conv-tasnet", SMALL["conv-tasnet"]), "conv-tasnet")
    noisy = _noisy(44100, 1, 2.5)
    sf.write(tmp_path / "in.wav", noisy[0], 44100, subtype="FLOAT")
    enhancer = load_enhancer(tmp_path / "tasnet.pt", dry=1.0)
    assert not enhancer.causal
    enhance_file(enhancer, tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.3)
    np.testing.assert_allclose(sf.read(tmp_path / "out.wav", dtype="float32")[0], noisy[0], atol=1e-5)
