import numpy as np
import pytest
import soundfile as sf

from cmkt.data.noise_augment import augment_noise
from cmkt.data.prep import Mixer, PrepConfig, load_mixer
from cmkt.errors import CmktError
from cmkt.train import TrainConfig, train
from tests.conftest import tone


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


def test_the_mixer_augments_train_noise_only(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        (tmp_path / "noise" / split).mkdir(parents=True)
        sf.write(tmp_path / "noise" / split / "white.wav", rng.standard_normal(32000).astype(np.float32) * 0.1, 16000)
    config = PrepConfig(speech="unused", noise=str(tmp_path / "noise"), out=str(tmp_path / "out"), snr_range=(0.0, 5.0))
    plain, augmenting = Mixer(config), Mixer(config, augment=True)
    clean = tone(1.0, 16000)
    for split, differs in (("train", True), ("valid", False), ("test", False)):
        _, a, _ = plain.mix(clean, split, np.random.default_rng(3))
        _, b, _ = augmenting.mix(clean, split, np.random.default_rng(3))
        assert (not np.allclose(a, b)) == differs


def test_training_with_noise_augmentation(prepared, tmp_path):
    assert load_mixer(prepared, augment=True).augment
    config = TrainConfig(str(prepared / "train.jsonl"), str(prepared / "valid.jsonl"), str(tmp_path / "run"), steps=2, batch_size=2,
                         valid_every=2, valid_items=1, model={"hidden": 32}, dynamic_mixing=True, noise_augment=True)
    assert train(config).is_file()
    with pytest.raises(CmktError, match="add --dynamic-mixing"):
        train(TrainConfig(str(prepared / "train.jsonl"), str(prepared / "valid.jsonl"), str(tmp_path / "run2"), steps=1,
                          noise_augment=True))
