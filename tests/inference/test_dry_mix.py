import numpy as np
import pytest
import soundfile as sf

from cmkt.errors import CmktError
from cmkt.inference.chunked import ChunkedEnhancer
from cmkt.inference.dry_mix import DryMixStream, dry_share
from cmkt.inference.enhancer import enhance_array, enhance_file, load_enhancer
from tests.conftest import push_in_blocks, tone


def _noisy(rate: int = 16000, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (tone(seconds, rate, 300.0, 0.2) + 0.05 * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def test_attenuation_limit_is_the_dry_share_in_decibels():
    assert dry_share() == 0.0 and dry_share(dry=0.3) == 0.3
    assert dry_share(atten_lim_db=20) == pytest.approx(0.1) and dry_share(atten_lim_db=6) == pytest.approx(
        0.501, abs=1e-3
    )
    for bad, message in [
        ({"dry": 1.5}, "must lie in"),
        ({"atten_lim_db": -3}, "positive"),
        ({"dry": 0.1, "atten_lim_db": 6}, "not both"),
    ]:
        with pytest.raises(CmktError, match=message):
            dry_share(**bad)


def test_dry_share_mixes_the_input_back_sample_aligned(trained_model):
    noisy = _noisy()
    wet = enhance_array(load_enhancer(trained_model), noisy, 16000)
    assert np.abs(wet - noisy).max() > 0.01  # the model does change the signal
    np.testing.assert_allclose(enhance_array(load_enhancer(trained_model, dry=1.0), noisy, 16000), noisy, atol=1e-6)
    np.testing.assert_allclose(
        enhance_array(load_enhancer(trained_model, dry=0.25), noisy, 16000), 0.75 * wet + 0.25 * noisy, atol=1e-6
    )


def test_streamed_file_with_dry_share_equals_the_whole_array(trained_model, tmp_path):
    enhancer = load_enhancer(trained_model, dry=0.3)
    noisy = _noisy(44100, 1.7)  # another rate: the mix happens at the model's rate, between the resamplers
    sf.write(tmp_path / "in.wav", noisy, 44100, subtype="FLOAT")
    enhance_file(enhancer, tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.13)
    streamed = sf.read(tmp_path / "out.wav", dtype="float32")[0]
    np.testing.assert_allclose(streamed, enhance_array(enhancer, noisy, 44100), atol=1e-4)


def test_dry_share_keeps_a_chunked_enhancer_aligned(trained_model):
    model = load_enhancer(trained_model).model
    noisy = _noisy()[None]
    wet = push_in_blocks(ChunkedEnhancer(model, 1, 8000, 1000), noisy, [777, 3001])
    mixed = push_in_blocks(DryMixStream(ChunkedEnhancer(model, 1, 8000, 1000), 0.4), noisy, [777, 3001])
    assert mixed.shape == noisy.shape
    np.testing.assert_allclose(mixed, 0.6 * wet + 0.4 * noisy, atol=1e-6)


def test_cli_rejects_both_spellings_at_once(tmp_path):
    from typer.testing import CliRunner

    from cmkt.cli import app

    sf.write(tmp_path / "in.wav", _noisy(), 16000)
    result = CliRunner().invoke(
        app, ["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out"), "--dry", "0.2", "--atten-lim", "6"]
    )
    assert result.exit_code != 0 and "not both" in result.output and not (tmp_path / "out").exists()


def test_cli_attenuation_limit_reaches_the_written_file(trained_model, tmp_path):
    from typer.testing import CliRunner

    from cmkt.cli import app

    noisy = _noisy()
    sf.write(tmp_path / "in.wav", noisy, 16000, subtype="FLOAT")
    result = CliRunner().invoke(
        app,
        [
            "enhance",
            str(tmp_path / "in.wav"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(trained_model),
            "--atten-lim",
            "20",
            "--subtype",
            "FLOAT",
        ],
    )
    assert result.exit_code == 0 and "input mixed back: 0.10" in result.output
    written = sf.read(tmp_path / "out" / "in.wav", dtype="float32")[0]
    wet = enhance_array(load_enhancer(trained_model), noisy, 16000)
    np.testing.assert_allclose(written, 0.9 * wet + 0.1 * noisy, atol=1e-4)
