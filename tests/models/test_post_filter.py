import math

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from cmkt.cli import app
from cmkt.errors import CmktError
from cmkt.inference.enhancer import enhance_array, load_enhancer
from cmkt.models.post_filter import check_post_filter, post_filter
from cmkt.registry import build_model, save_checkpoint
from tests.conftest import deep_filter_model
from tests.models.test_backbones import SMALL


def _bins(gains: list[float], phase: float = 0.7) -> tuple[torch.Tensor, torch.Tensor]:
    """A noisy spectrum of unit bins and an enhanced one with these gains, both (bins, 2)."""
    noisy = torch.tensor([[math.cos(phase), math.sin(phase)]] * len(gains))
    return noisy, noisy * torch.tensor(gains).unsqueeze(-1)


def test_gains_follow_deepfilternet2s_curve_and_keep_the_phase():
    noisy, enhanced = _bins([1.0, 0.5, 0.1, 0.0, 1.5])
    out = post_filter(noisy, enhanced, 0.02)
    gains = out.norm(dim=-1) / noisy.norm(dim=-1)
    # (1 + b) g / (1 + b / sin^2(pi g / 2)) by hand: g = 0.5 -> 0.51 / 1.04; g = 0.1 -> 0.102 / (1 + 0.02 / 0.02447)
    expected = [1.0, 0.51 / 1.04, 0.102 / (1 + 0.02 / math.sin(0.05 * math.pi) ** 2), 0.0, 1.5]
    np.testing.assert_allclose(gains.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert gains[2] / 0.1 < gains[1] / 0.5 < 1.0  # the smaller the gain, the more it shrinks
    angles = torch.atan2(out[:3, 1], out[:3, 0])
    np.testing.assert_allclose(angles.numpy(), 0.7, atol=1e-6)  # a louder-than-noisy bin (1.5) is left alone


def test_zero_strength_leaves_the_spectrum_as_it_is():
    noisy, enhanced = _bins([0.3, 0.9])
    assert post_filter(noisy, enhanced, 0.0) is enhanced


@pytest.mark.parametrize("beta", [-0.1, 1.5, float("nan")])
def test_strengths_out_of_range_are_refused_with_the_range(beta):
    with pytest.raises(CmktError, match=r"--post-filter .*0\.\.1"):
        check_post_filter(beta)


def test_a_model_with_it_on_changes_its_output():
    """(Streaming equals offline with it on: tests/inference/test_streaming.py.)"""
    model = deep_filter_model(order=3)
    noisy = torch.from_numpy((0.1 * np.random.default_rng(5).standard_normal((1, 16000))).astype(np.float32))
    with torch.no_grad():
        plain = model(noisy)[0]
        model.post_filter_beta = 0.05
        filtered = model(noisy)[0]
    assert (plain - filtered).abs().max() > 1e-3


def test_the_shipped_model_loses_more_noise_than_speech_with_it(speech_corpus):
    """Noise alone for a second, then speech in that noise: the post-filter takes a larger share of
    the noise-only second away than of the speech."""
    speech, rate = sf.read(speech_corpus.parent / "f_0.wav", dtype="float32")
    rng = np.random.default_rng(3)
    lead = rate
    noise = 0.03 * rng.standard_normal(lead + len(speech)).astype(np.float32)
    noisy = noise + np.concatenate([np.zeros(lead, np.float32), speech / np.abs(speech).max() * 0.3])
    plain = enhance_array(load_enhancer("cmkt-base-16k", post_filter=0), noisy, rate)
    # each shipped model runs with the strength chosen for it on open-valid: s7, s6 and s5 none, s3 0.1
    assert load_enhancer("cmkt-base-16k").post_filter == 0.0 == load_enhancer("cmkt-base-16k-s6").post_filter
    assert load_enhancer("cmkt-base-16k-s5").post_filter == 0.0
    assert load_enhancer("cmkt-base-16k-s3").post_filter == 0.1
    filtered = enhance_array(load_enhancer("cmkt-base-16k", post_filter=0.1), noisy, rate)

    def energy(x: np.ndarray, part: slice) -> float:
        return float(np.sum(x[part] ** 2))

    noise_kept = energy(filtered, slice(2048, lead)) / energy(plain, slice(2048, lead))
    speech_kept = energy(filtered, slice(lead, None)) / energy(plain, slice(lead, None))
    assert noise_kept < speech_kept < 1.0
    assert speech_kept > 0.8  # speech survives


def test_a_model_without_gains_refuses_it_by_name(tmp_path):
    save_checkpoint(tmp_path / "tasnet.pt", build_model("conv-tasnet", SMALL["conv-tasnet"]), "conv-tasnet")
    with pytest.raises(CmktError, match=r"tasnet\.pt: --post-filter .* not on conv-tasnet"):
        load_enhancer(tmp_path / "tasnet.pt", post_filter=0.02)


def test_a_checkpoint_carries_its_own_strength_and_an_explicit_one_wins(trained_model, tmp_path):
    from recipes.open_corpus.set_post_filter import set_post_filter

    copy = tmp_path / "tuned.pt"
    copy.write_bytes(trained_model.read_bytes())
    assert load_enhancer(copy).post_filter == 0.0  # a model that records none runs without
    set_post_filter(copy, 0.05)
    assert load_enhancer(copy).post_filter == 0.05 and load_enhancer(copy, post_filter=0).post_filter == 0.0
    assert load_enhancer(copy).model.post_filter_beta == 0.05
    set_post_filter(copy, 0)
    assert load_enhancer(copy).post_filter == 0.0


def test_cli_post_filter_reaches_the_written_file_and_bad_values_stop_early(trained_model, tmp_path):
    rng = np.random.default_rng(8)
    noisy = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    sf.write(tmp_path / "in.wav", noisy, 16000, subtype="FLOAT")
    common = ["enhance", str(tmp_path / "in.wav"), "--model", str(trained_model), "--subtype", "FLOAT"]
    bad = CliRunner().invoke(app, [*common, "-o", str(tmp_path / "bad"), "--post-filter", "3"])
    assert bad.exit_code != 0 and "--post-filter 3: give a strength in 0..1" in bad.output
    assert not (tmp_path / "bad").exists()
    good = CliRunner().invoke(app, [*common, "-o", str(tmp_path / "out"), "--post-filter", "0.1"])
    assert good.exit_code == 0 and "(post-filter 0.1)" in good.output, good.output
    written = sf.read(tmp_path / "out" / "in.wav", dtype="float32")[0]
    expected = enhance_array(load_enhancer(trained_model, post_filter=0.1), noisy, 16000)
    np.testing.assert_allclose(written, expected, atol=1e-6)
