import numpy as np
import pytest

from cmkt.data.augment.base import Example
from cmkt.data.augment.noise import ENVELOPE_DEPTH_DB, NoiseEnvelope, augment_noise, level_envelope
from cmkt.data.augment.registry import parse_augmentations
from cmkt.data.mixing import Mixer, load_mixer
from cmkt.errors import CmktError
from cmkt.training.trainer import train
from tests.conftest import tiny_train_config, tone, white_noise_mixing


def spectral_centroid(x: np.ndarray, sample_rate: int = 16000) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sample_rate)
    return float((power * freqs).sum() / power.sum())


def test_augmented_noise_has_the_asked_length_repeats_with_the_seed_and_varies_in_colour():
    noise = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.3
    first = augment_noise(noise, 20000, 16000, np.random.default_rng(5))
    again = augment_noise(noise, 20000, 16000, np.random.default_rng(5))
    assert first.shape == (20000,) and first.dtype == np.float32 and np.array_equal(first, again)
    centroids = []
    for seed in range(40):
        out = augment_noise(noise, 4001 + seed * 97, 16000, np.random.default_rng(seed), partner=noise)
        assert out.shape == (4001 + seed * 97,) and np.isfinite(out).all() and np.std(out) > 0
        centroids.append(spectral_centroid(out))
    # white noise's centroid is 4 kHz; speed changes and filters move it by hundreds of Hz either way
    assert min(centroids) < 3600 and max(centroids) > 4300


def test_a_speed_change_moves_a_tone():
    sine = tone(3.0, 16000, freq=1000.0)
    moved = []
    for seed in range(30):
        out = augment_noise(sine, 16000, 16000, np.random.default_rng(seed))
        spectrum = np.abs(np.fft.rfft(out))
        moved.append(abs(np.argmax(spectrum) * 16000 / len(out) - 1000.0) > 50)
    assert any(moved) and not all(moved)  # p 0.5 of a speed change


def short_term_levels_db(x: np.ndarray, frame: int = 1600) -> np.ndarray:
    frames = x[: len(x) // frame * frame].reshape(-1, frame)
    return 10 * np.log10((frames.astype(np.float64) ** 2).mean(axis=1))


def test_a_level_envelope_is_smooth_and_swings_within_its_depth():
    for seed in range(20):
        curve = level_envelope(16000 * 4, 16000, np.random.default_rng(seed))
        swing = 20 * np.log10(curve)
        assert curve.shape == (64000,) and curve.dtype == np.float32
        assert ENVELOPE_DEPTH_DB[0] - 1e-3 <= np.abs(swing).max() <= ENVELOPE_DEPTH_DB[1] + 1e-3
        assert np.abs(np.diff(swing)).max() < 0.05  # at most 3 Hz: no jumps from one sample to the next


def test_the_envelope_makes_steady_noise_rise_and_fall_only_when_asked():
    noise = np.random.default_rng(0).standard_normal(16000 * 5).astype(np.float32) * 0.1
    speech = np.zeros(16000 * 4, dtype=np.float32)
    steady, drifting = [], []
    for seed in range(20):
        for envelope, spreads in ((False, steady), (True, drifting)):
            rng = np.random.default_rng(seed)
            example = Example(
                target=speech,
                heard=speech,
                noise=augment_noise(noise, len(speech), 16000, rng),
                sample_rate=16000,
                split="train",
            )
            if envelope:
                NoiseEnvelope()(example, rng, None)
            levels = short_term_levels_db(example.noise)
            spreads.append(levels.max() - levels.min())
    assert max(steady) < 3.0  # white (or narrowly filtered) noise in 100-ms frames varies by a dB or two
    assert sum(spread > 2 * ENVELOPE_DEPTH_DB[0] - 1 for spread in drifting) >= 5  # p 0.5 of a drift per noise
    assert sum(spread > 2 * ENVELOPE_DEPTH_DB[0] - 1 for spread in drifting) <= 15


def test_the_mixer_augments_train_noise_only(tmp_path):
    config = white_noise_mixing(tmp_path)
    plain, augmenting = Mixer(config), Mixer(config, augmentations=parse_augmentations("noise"))
    clean = tone(1.0, 16000)
    for split, differs in (("train", True), ("valid", False), ("test", False)):
        _, a, _ = plain.mix(clean, split, np.random.default_rng(3))
        _, b, _ = augmenting.mix(clean, split, np.random.default_rng(3))
        assert (not np.allclose(a, b)) == differs


def test_training_with_noise_augmentation(prepared, tmp_path):
    assert [step.name for step in load_mixer(prepared, "noise_envelope,noise").augmentations] == [
        "noise",
        "noise_envelope",
    ]
    config = tiny_train_config(prepared, tmp_path / "run", dynamic_mixing=True, augment="noise")
    assert train(config).is_file()
    with pytest.raises(CmktError, match="add --dynamic-mixing"):
        train(tiny_train_config(prepared, tmp_path / "run2", 1, augment="noise"))
