"""The full-band join: a crossover that sums to unity, and the issue's gated-harmonics measures
on the shipped model (real audio made here: harmonics to 14 kHz, white noise)."""

import numpy as np
import pytest
import scipy.signal as ss

from cmkt.audio import resample
from cmkt.errors import CmktError
from cmkt.inference.band_split import FullBandJoin, LowBandJoin, band_join
from cmkt.inference.enhancer import enhance_array, load_enhancer
from cmkt.inference.high_band import HighBandSettings
from cmkt.pretrained import DEFAULT_MODEL
from tests.conftest import push_in_blocks

RATE = 48000


def _band_power_db(signal: np.ndarray, low_hz: float, high_hz: float) -> float:
    freqs, power = ss.welch(signal, RATE, nperseg=4096)
    return float(10 * np.log10(power[(freqs >= low_hz) & (freqs < high_hz)].mean()))


def _join_alone(join, samples: np.ndarray, enhanced16: np.ndarray) -> np.ndarray:
    """Push the input and a given model-rate output through a join in blocks, as a stream does."""
    noisy16 = resample(samples, RATE, 16000)
    out, start16 = [], 0
    for start in range(0, samples.shape[1], 4801):
        stop = min(samples.shape[1], start + 4801)
        stop16 = noisy16.shape[1] if stop == samples.shape[1] else stop * 16000 // RATE
        out.append(join.push(samples[:, start:stop], enhanced16[:, start16:stop16], noisy16[:, start16:stop16]))
        start16 = stop16
    out.append(join.flush())
    return np.concatenate(out, axis=1)[:, : samples.shape[1]]


def test_the_crossover_sums_to_unity_and_splits_at_8_khz():
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal((1, RATE * 2))).astype(np.float32)
    passing = HighBandSettings(floor_db=0.0)  # every gain at 1: the join is the crossover alone
    low16 = resample(noise, RATE, 16000)
    whole = _join_alone(FullBandJoin(16000, RATE, 1, 0.0, passing), noise, low16)
    np.testing.assert_allclose(whole, noise, atol=1e-5)  # low + high = the input, sample-aligned
    high = _join_alone(FullBandJoin(16000, RATE, 1, 0.0, passing), noise, np.zeros_like(low16))
    low = noise - high
    level = _band_power_db(noise[0], 1000, 20000)
    # the bands cross where the resampler's transition lies (-3 dB near 7.3 kHz)
    assert _band_power_db(high[0], 100, 4000) < level - 40  # the high band holds nothing below 4 kHz
    assert _band_power_db(low[0], 10500, 23000) < level - 40  # the low band nothing above 10.5 kHz
    assert abs(_band_power_db(high[0], 9000, 23000) - level) < 0.5
    assert abs(_band_power_db(low[0], 100, 5000) - level) < 0.5


def _gated_harmonics(seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """250 Hz harmonics to 14 kHz, on for half of every second; white noise; and the gate."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    harmonics = sum(np.sin(2 * np.pi * 250 * k * t + rng.uniform(0, 2 * np.pi)) / np.sqrt(k) for k in range(1, 57))
    gate = ss.filtfilt(*ss.butter(2, 50 / (RATE / 2)), ((t % 1.0) < 0.5).astype(float))
    clean = (0.05 * harmonics * gate).astype(np.float32)
    return clean, (0.01 * rng.standard_normal(len(t))).astype(np.float32), gate


def _high_band_db(signal: np.ndarray, frames: np.ndarray) -> float:
    above = ss.sosfiltfilt(ss.butter(8, 8500, "highpass", fs=RATE, output="sos"), signal)
    return float(10 * np.log10(np.mean(above[frames] ** 2)))


def test_gated_harmonics_keep_their_band_above_8_khz_while_the_noise_there_drops():
    clean, noise, gate = _gated_harmonics()
    settled = np.arange(len(gate)) >= RATE  # after the first second (the noise estimate has met the noise)
    on, gaps = settled & (gate > 0.99), settled & (gate < 0.01)
    enhancer = load_enhancer(DEFAULT_MODEL)
    noisy = clean + noise
    out = enhance_array(enhancer, noisy, RATE)
    assert abs(_high_band_db(out, on) - _high_band_db(clean, on)) < 6.0  # harmonics above 8 kHz survive
    assert _high_band_db(out, gaps) < _high_band_db(noisy, gaps) - 6.0  # the noise there drops
    alone = enhance_array(enhancer, clean, RATE)  # no noise: the high band passes
    assert abs(_high_band_db(alone, on) - _high_band_db(clean, on)) < 1.0
    cut = enhance_array(load_enhancer(DEFAULT_MODEL, band="low"), noisy, RATE)
    assert _high_band_db(cut, on) < _high_band_db(clean, on) - 30.0  # --band low: today's behaviour, cut


def test_the_join_follows_the_rates():
    assert isinstance(band_join(16000, 48000, 48000, 1, 0.0), FullBandJoin)
    assert isinstance(band_join(16000, 48000, 48000, 1, 0.0, band="low"), LowBandJoin)
    assert isinstance(band_join(16000, 16000, 16000, 1, 0.0), LowBandJoin)  # nothing above the model's band
    assert isinstance(band_join(16000, 48000, 16000, 1, 0.0), LowBandJoin)  # an output at 16 kHz cannot hold it
    with pytest.raises(CmktError, match="--band wide: choose full"):
        band_join(16000, 48000, 48000, 1, 0.0, band="wide")


def test_a_stream_at_the_input_rate_equals_the_whole_array():
    rng = np.random.default_rng(3)
    clean, noise, _ = _gated_harmonics(1.5)
    stereo = np.stack([clean + noise, 0.5 * clean + noise[::-1]])
    enhancer = load_enhancer(DEFAULT_MODEL)
    whole = enhance_array(enhancer, stereo, RATE)
    streamed = push_in_blocks(enhancer.stream(2, sample_rate=RATE), stereo, rng.integers(1, 2000, 60).tolist())
    assert streamed.shape == stereo.shape
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    np.testing.assert_allclose(whole[0], enhance_array(enhancer, stereo[0], RATE), atol=1e-5)  # channels apart
