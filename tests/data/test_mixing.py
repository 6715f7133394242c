import numpy as np
import pytest
import soundfile as sf

from cmkt.data.mixing import PEAK_LIMIT, active_rms, fit_noise, mix_at_snr
from cmkt.data.mixing import Mixer
from cmkt.data.prep import PrepConfig
from cmkt.errors import CmktError
from tests.conftest import tone


def speech_like(sample_rate=16000):
    """A tone burst with silence around it: active level differs from the plain RMS."""
    return np.concatenate([np.zeros(sample_rate), tone(1.0, sample_rate), np.zeros(sample_rate)])


def test_snr_is_measured_on_active_speech():
    rng = np.random.default_rng(0)
    clean = speech_like()
    noise = rng.standard_normal(16000 * 2).astype(np.float32) * 0.01
    for snr in (-5.0, 0.0, 10.0):
        mixed_clean, noisy = mix_at_snr(clean, noise, snr, 16000, np.random.default_rng(1))
        residual = noisy - mixed_clean
        measured = 20 * np.log10(active_rms(mixed_clean, 16000) / np.sqrt(np.mean(residual**2)))
        assert abs(measured - snr) < 0.05


def test_mix_never_clips_and_scales_clean_alike():
    clean = tone(1.0, amp=0.9)
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    mixed_clean, noisy = mix_at_snr(clean, noise, -5.0, 16000, np.random.default_rng(0))
    assert np.abs(noisy).max() <= PEAK_LIMIT + 1e-6
    ratio = mixed_clean[100] / clean[100]
    assert np.allclose(mixed_clean, clean * ratio, atol=1e-6) and ratio < 1


def test_short_noise_is_looped_and_deterministic():
    noise = np.arange(100, dtype=np.float32)
    a = fit_noise(noise, 1000, np.random.default_rng(3))
    b = fit_noise(noise, 1000, np.random.default_rng(3))
    assert len(a) == 1000 and np.array_equal(a, b)


def test_a_training_mixer_needs_train_noise_only(tmp_path):
    """Dynamic mixing draws train noises alone, so a training machine may lack the test noises;
    prep, which mixes every split, still insists on all three subfolders."""
    (tmp_path / "noise" / "train").mkdir(parents=True)
    (tmp_path / "noise" / "valid").mkdir()
    rng = np.random.default_rng(0)
    for split in ("train", "valid"):
        sf.write(tmp_path / "noise" / split / "white.wav", rng.standard_normal(16000).astype(np.float32) * 0.1, 16000)
    config = PrepConfig(speech="unused", noise=str(tmp_path / "noise"), out=str(tmp_path / "out"), snr_range=(0.0, 5.0))
    with pytest.raises(CmktError, match="test missing or empty"):
        Mixer(config)
    mixer = Mixer(config, splits=("train",))
    clean = speech_like()
    target, noisy, drawn = mixer.mix(clean, "train", np.random.default_rng(1))
    assert np.std(noisy - target) > 0 and 0.0 <= drawn["snr_db"] <= 5.0
    with pytest.raises(CmktError, match="no test noise to mix with; add a test/ subfolder"):
        mixer.mix(clean, "test", np.random.default_rng(1))
