import numpy as np
import pytest
import soundfile as sf
import torch

from cmkt.errors import CmktError
from cmkt.inference.enhancer import enhance_array, enhance_file, load_enhancer
from tests.conftest import tone


@pytest.mark.parametrize("rate,channels,subtype", [(16000, 1, "FLOAT"), (44100, 2, "FLOAT"), (8000, 1, "PCM_16")])
def test_block_by_block_file_equals_whole_array(trained_model, tmp_path, rate, channels, subtype):
    enhancer = load_enhancer(trained_model)
    noisy = (0.1 * np.random.default_rng(rate).standard_normal((channels, rate * 3 + 41))).astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy.T, rate, subtype=subtype)
    stored = sf.read(tmp_path / "in.wav", dtype="float32", always_2d=True)[0].T
    result = enhance_file(enhancer, tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.3)
    blockwise = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T
    whole = enhance_array(enhancer, stored, rate)
    assert blockwise.shape == stored.shape and result.duration_s == pytest.approx(stored.shape[1] / rate)
    np.testing.assert_allclose(blockwise, np.clip(whole, -1, 1), atol=1e-4)  # one 16-bit step at most


def test_enhance_array_takes_numpy_and_torch_alike(trained_model):
    enhancer = load_enhancer(trained_model)
    noisy = (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    from_numpy = enhance_array(enhancer, noisy, 8000)
    from_torch = enhancer(torch.from_numpy(noisy), 8000)
    assert isinstance(from_torch, torch.Tensor) and from_numpy.shape == (8000,)
    np.testing.assert_allclose(from_torch.numpy(), from_numpy, atol=1e-6)


def test_nan_in_the_middle_of_a_long_file_is_a_clear_error_and_writes_nothing(trained_model, tmp_path):
    noisy = np.zeros(16000 * 3, np.float32)
    noisy[16000 * 2] = np.nan
    sf.write(tmp_path / "nan.wav", noisy, 16000, subtype="FLOAT")
    with pytest.raises(CmktError, match="NaN"):
        enhance_file(load_enhancer(trained_model), tmp_path / "nan.wav", tmp_path / "out.wav", block_seconds=0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.wav"]


def test_unavailable_device_is_a_clear_error(trained_model):
    with pytest.raises(CmktError, match="use --device cpu"):
        load_enhancer(trained_model, device="no-such-device")


def test_arrays_channel_last_integer_and_non_finite_follow_one_rule(trained_model):
    enhancer = load_enhancer(trained_model)
    rng = np.random.default_rng(0)
    stereo = np.stack([tone(0.5), tone(0.5, freq=880.0)]) + 0.05 * rng.standard_normal((2, 8000)).astype(np.float32)
    first = enhancer(stereo, 16000)
    last = enhancer(np.ascontiguousarray(stereo.T), 16000)  # what soundfile.read returns
    assert last.shape == (8000, 2) and np.allclose(last.T, first, atol=1e-6)
    as_int = enhancer(np.round(stereo * 32767).astype(np.int16), 16000)
    assert as_int.dtype == np.int16 and np.abs(as_int / 32768.0 - first).max() < 2e-3  # scaled in and back out
    broken = stereo.copy()
    broken[0, 100] = np.nan
    with pytest.raises(CmktError, match="NaN"):
        enhancer(broken, 16000)
    with pytest.raises(CmktError, match="channels"):
        enhancer(np.zeros((100, 200), dtype=np.float32), 16000)


def test_a_long_file_reports_progress_block_by_block(trained_model, tmp_path):
    """The bar of `cmkt enhance` moves within a long file: every block's seconds are reported, in order."""
    from cmkt.inference.enhancer import enhance_file, load_enhancer

    sf.write(tmp_path / "long.wav", tone(7.5), 16000)
    heard: list[float] = []
    enhance_file(
        load_enhancer(trained_model),
        tmp_path / "long.wav",
        tmp_path / "out.wav",
        block_seconds=2.0,
        on_block=heard.append,
    )
    assert heard == [2.0, 2.0, 2.0, 1.5]
