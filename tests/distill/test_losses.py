"""The enhancement and distillation losses: each is least at the target, weights add up, STOI tracks pystoi."""

import numpy as np
import pytest
import torch

from cmkt.distill.losses import (
    ENHANCEMENT_LOSSES,
    cosine_distill_loss,
    enhancement_loss,
    mrstft_loss,
    mrstft_relative_loss,
    parse_loss,
    residual_noise_loss,
    spectral_mae_loss,
)
from cmkt.errors import CmktError


def test_cosine_loss_is_zero_for_identical_and_ignores_padding():
    z = torch.randn(2, 5, 8)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert cosine_distill_loss(z, z, mask).item() < 1e-6
    garbage = z.clone()
    garbage[0, 3:] = -z[0, 3:]  # padded positions differ: must not count
    assert cosine_distill_loss(garbage, z, mask).item() < 1e-6
    assert abs(cosine_distill_loss(-z, z, mask).item() - 2.0) < 1e-5


def test_se_loss_is_zero_for_perfect_output():
    clean = torch.randn(2, 4000)
    lengths = torch.tensor([4000, 3000])
    assert spectral_mae_loss(clean, clean, lengths).item() < 1e-6
    assert spectral_mae_loss(clean * 0.5, clean, lengths).item() > 0.01


def test_every_enhancement_loss_is_least_for_the_clean_signal_and_weights_add_up():
    torch.manual_seed(0)
    clean = torch.randn(2, 16000) * 0.1
    noisy = clean + 0.05 * torch.randn(2, 16000)
    lengths = torch.tensor([16000, 12000])
    for name in ENHANCEMENT_LOSSES:
        weights = parse_loss(name)
        assert enhancement_loss(clean, clean, lengths, weights) < enhancement_loss(noisy, clean, lengths, weights), name
    both = enhancement_loss(noisy, clean, lengths, parse_loss("spectral_mae=2,si_sdr=0.5"))
    parts = 2 * enhancement_loss(noisy, clean, lengths, {"spectral_mae": 1}) + 0.5 * enhancement_loss(
        noisy, clean, lengths, {"si_sdr": 1}
    )
    assert torch.allclose(both, parts)
    with pytest.raises(CmktError, match="unknown term 'l2'"):
        parse_loss("l2=1")


def test_residual_noise_counts_only_what_the_output_has_above_the_clean_speech():
    """Zero for the clean signal and for any attenuation of it, positive for added noise and never
    above spectral_mae (it is that error's overshoot half), padding excluded."""
    torch.manual_seed(0)
    clean = torch.randn(2, 8000) * 0.1
    lengths = torch.tensor([8000, 6000])
    noisy = clean + 0.05 * torch.randn(2, 8000)
    assert residual_noise_loss(clean, clean, lengths).item() < 1e-6
    assert residual_noise_loss(clean * 0.5, clean, lengths).item() < 1e-6
    assert spectral_mae_loss(clean * 0.5, clean, lengths).item() > 0.01
    overshoot = residual_noise_loss(noisy, clean, lengths).item()
    whole = spectral_mae_loss(noisy, clean, lengths).item()
    assert 0.01 < overshoot <= whole
    padded_garbage = noisy.clone()
    padded_garbage[1, 6000:] = 1.0  # beyond the second item's length: must not count
    assert residual_noise_loss(padded_garbage, clean, lengths).item() == pytest.approx(overshoot, rel=1e-5)


def test_residual_noise_weight_moves_the_best_gain_towards_suppression():
    """The best fixed gain on broadband speech-like noise in white noise is lower with residual_noise
    added than under spectral_mae alone, and lower still at a higher weight: the term buys a quieter
    background with some of the speech."""
    generator = torch.Generator().manual_seed(1)
    clean = 0.1 * torch.randn(1, 16000, generator=generator)
    noisy = clean + 0.05 * torch.randn(1, 16000, generator=generator)
    lengths = torch.tensor([16000])
    gains = torch.linspace(0.05, 1.2, 47)

    def best_gain(weights: dict[str, float]) -> float:
        losses = [enhancement_loss(g * noisy, clean, lengths, weights).item() for g in gains]
        return gains[int(np.argmin(losses))].item()

    alone = best_gain({"spectral_mae": 1})
    assert 0.5 < alone < 1.0
    leaning = best_gain({"spectral_mae": 1, "residual_noise": 1})
    assert best_gain({"spectral_mae": 1, "residual_noise": 2}) < leaning < alone


def speech_then_pause(residual_db: float, seconds: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A clean item whose second half is digital silence, and an output that is the clean speech plus white
    noise `residual_db` below the speech's RMS in that silent half only."""
    generator = torch.Generator().manual_seed(2)
    n = int(16000 * seconds)
    t = torch.arange(n) / 16000
    clean = 0.1 * torch.sin(2 * torch.pi * 200 * t) * (t < seconds / 2)
    residual = 0.1 / 2**0.5 * 10 ** (residual_db / 20) * torch.randn(n, generator=generator) * (t >= seconds / 2)
    return (clean + residual)[None], clean[None]


def test_mrstft_relative_is_level_invariant_where_mrstft_is_not():
    output, clean = speech_then_pause(-30.0)
    lengths = torch.tensor([output.shape[1]])
    for scale in (1e-3, 10.0):
        assert mrstft_relative_loss(output * scale, clean * scale, lengths).item() == pytest.approx(
            mrstft_relative_loss(output, clean, lengths).item(), rel=1e-3
        )
    assert mrstft_loss(output * 1e-3, clean * 1e-3, lengths).item() < 0.8 * mrstft_loss(output, clean, lengths).item()


def test_mrstft_relative_caps_what_a_silent_target_bin_costs():
    """In a silent target half, residual noise 70 dB below the speech costs next to nothing under
    mrstft_relative (its floor is 60 dB down) but a great deal under mrstft (1e-8 floor), and audible
    residuals cost more the louder they are under both."""
    lengths = torch.tensor([16000])
    relative = {db: mrstft_relative_loss(*speech_then_pause(db), lengths).item() for db in (-70.0, -40.0, -20.0)}
    plain = {db: mrstft_loss(*speech_then_pause(db), lengths).item() for db in (-70.0, -40.0, -20.0)}
    assert relative[-70.0] < 0.01 * relative[-20.0] and plain[-70.0] > 0.1 * plain[-20.0]
    assert relative[-70.0] < relative[-40.0] < relative[-20.0] and plain[-70.0] < plain[-40.0] < plain[-20.0]


def test_stoi_terms_follow_pystoi_and_ignore_padding():
    """-loss is the (E)STOI pystoi gives the same pair, within the differentiable version's small
    differences, whatever the zero padding behind a shorter item; and gradients reach the input."""
    from pystoi import stoi

    from scipy.signal import lfilter

    rng = np.random.default_rng(0)
    rate, seconds = 16000, 3
    t = np.arange(rate * seconds) / rate
    syllables = np.clip(
        np.sin(2 * np.pi * 3.1 * t) + 0.3 * np.sin(2 * np.pi * 7 * t), 0, None
    )  # speech-like 3-7 Hz envelope
    clean = lfilter([1], [1, -0.95], rng.standard_normal(t.size)) * syllables
    clean *= 0.1 / clean.std()
    noisy = clean + 0.08 * rng.standard_normal(clean.size)
    for name, extended in (("stoi", False), ("estoi", True)):
        expected = stoi(clean, noisy, rate, extended=extended)
        pair = [torch.tensor(np.stack([x, x]), dtype=torch.float32) for x in (noisy, clean)]
        padded = [torch.nn.functional.pad(x, (0, rate)) for x in pair]
        for enhanced, target in (pair, padded):
            enhanced = enhanced.clone().requires_grad_()
            loss = enhancement_loss(enhanced, target, torch.tensor([clean.size, clean.size]), {name: 1})
            assert -loss.item() == pytest.approx(expected, abs=0.01), name
        loss.backward()
        assert enhanced.grad[:, : clean.size].abs().sum() > 0 and enhanced.grad[:, clean.size :].abs().sum() == 0
