import numpy as np
import pytest

from cmkt.data.augment.base import Example
from cmkt.data.augment.registry import parse_augmentations
from cmkt.data.augment.speech_colour import SPEECH_EQ_GAIN_DB, SpeechColour
from cmkt.data.mixing import Mixer, load_mixer, rms
from cmkt.training.trainer import train
from tests.conftest import tiny_train_config, tone, white_noise_mixing


def band_levels_db(x: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """Power in octave bands from 125 Hz to 4 kHz, in dB."""
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sample_rate)
    edges = 125 * 2.0 ** np.arange(7)
    return np.array([10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum()) for lo, hi in zip(edges[:-1], edges[1:])])


def speech_like(seconds: float = 2.0) -> np.ndarray:
    """Harmonics of a 150 Hz voice, falling 6 dB per octave: energy in every band the filters reach."""
    return sum(tone(seconds, 16000, freq=150.0 * k) / k for k in range(1, 40)).astype(np.float32)


def recoloured(clean: np.ndarray, seed: int) -> np.ndarray:
    example = Example(target=clean, heard=clean, noise=clean, sample_rate=16000, split="train")
    SpeechColour()(example, np.random.default_rng(seed), None)
    assert example.heard is example.target  # the target is re-coloured with what the microphone hears
    return example.target


def test_recoloured_speech_keeps_its_level_repeats_with_the_seed_and_changes_colour_by_a_few_db():
    clean = speech_like()
    shaped = [recoloured(clean, seed) for seed in range(30)]
    assert np.array_equal(shaped[3], recoloured(clean, 3))
    changed = [s for s in shaped if not np.array_equal(s, clean)]
    assert 5 <= len(changed) <= 25  # p 0.5 per utterance
    for s in changed:
        assert s.shape == clean.shape and s.dtype == np.float32 and np.isfinite(s).all()
        assert rms(s) == pytest.approx(rms(clean), rel=1e-3)
    moves = [np.abs(band_levels_db(s) - band_levels_db(clean)).max() for s in changed]
    assert max(moves) > 2.0  # audibly re-coloured somewhere
    assert max(moves) < 3 * SPEECH_EQ_GAIN_DB + 1  # at most three filters stacked at the largest gain


def test_the_mixer_recolours_train_speech_only_and_its_target_with_it(tmp_path):
    config = white_noise_mixing(tmp_path)
    plain, recolouring = Mixer(config), Mixer(config, augmentations=parse_augmentations("speech_eq"))
    clean = speech_like()
    for seed in range(6):
        target, noisy, drawn = plain.mix(clean, "valid", np.random.default_rng(seed))
        again = recolouring.mix(clean, "valid", np.random.default_rng(seed))
        assert np.array_equal(target, again[0]) and np.array_equal(noisy, again[1]) and drawn == again[2]
    targets = [recolouring.mix(clean, "train", np.random.default_rng(seed))[0] for seed in range(10)]
    plain_targets = [plain.mix(clean, "train", np.random.default_rng(seed))[0] for seed in range(10)]
    assert any(not np.allclose(a, b) for a, b in zip(targets, plain_targets))


def test_training_with_speech_eq(prepared, tmp_path):
    assert [step.name for step in load_mixer(prepared, "speech_eq").augmentations] == ["speech_eq"]
    config = tiny_train_config(prepared, tmp_path / "run", dynamic_mixing=True, augment="speech_eq")
    assert train(config).is_file()
