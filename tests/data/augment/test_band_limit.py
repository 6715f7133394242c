import numpy as np

from cmkt.data.augment.band_limit import LOWPASS_RANGE_HZ, BandLimit, low_pass, mu_law
from tests.data.augment.conftest import example_of


def band_share(x: np.ndarray, lo: float, hi: float, rate: int = 16000) -> float:
    """Share of the power between lo and hi Hz."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


def band_power(x: np.ndarray, lo: float, hi: float, rate: int = 16000) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(power[(freqs >= lo) & (freqs < hi)].sum())


def white(seed: int, amp: float = 0.1) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(32000) * amp).astype(np.float32)


def test_target_and_mixture_go_through_the_same_band_and_keep_their_length():
    kinds = set()
    for seed in range(12):
        speech, noisy = white(seed), white(seed + 100, 0.2)
        example = example_of(speech, noisy=noisy)
        BandLimit(1.0)(example, np.random.default_rng(seed), None)
        kind = example.drawn["band"]
        kinds.add(kind.split()[0])
        assert example.target.shape == example.noisy.shape == speech.shape
        assert example.target.dtype == example.noisy.dtype == np.float32
        top = 3600.0 if kind == "telephone" else float(kind.split()[1]) + 300
        for side, before in ((example.target, speech), (example.noisy, noisy)):
            assert band_share(side, top, 8000) < 1e-3  # nothing left above the band: neither side has it
            kept = band_power(side, 500, top - 400) / band_power(before, 500, top - 400)
            assert 0.85 < kept < 1.15  # and the band itself passes (mu-law noise adds a little)
        if kind == "telephone":
            assert band_share(example.target, 0, 150) < 2e-3
    assert kinds == {"telephone", "lowpass"}


def test_valid_examples_keep_their_full_band():
    speech = white(0)
    example = example_of(speech, split="valid", noisy=speech.copy())
    BandLimit(1.0)(example, np.random.default_rng(0), None)
    assert example.target is speech and "band" not in example.drawn


def test_a_low_pass_cuts_where_asked_and_mu_law_is_quantisation_only():
    speech = white(3)
    for cutoff in LOWPASS_RANGE_HZ:
        assert band_share(low_pass(speech, 16000, cutoff), cutoff + 200, 8000) < 1e-3
    coded = mu_law(speech)
    error = 10 * np.log10(np.mean(speech**2) / np.mean((coded - speech) ** 2))
    assert 25 < error < 45  # 8-bit mu-law: about 38 dB SNR on a loud signal, nothing like a band change
