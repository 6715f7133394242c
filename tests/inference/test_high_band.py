import numpy as np
import pytest

from cmkt.errors import CmktError
from cmkt.inference.high_band import HighBandDenoiser, HighBandSettings


def test_settings_refuse_what_cannot_work():
    for bad, message in [
        ({"floor_db": 3.0}, "at most 0"),
        ({"absent_db": -5.0, "present_db": -10.0}, "absent_db must lie below"),
        ({"smoothing": 1.0}, "smoothing"),
    ]:
        with pytest.raises(CmktError, match=message):
            HighBandSettings(**bad)


def _above_8_khz(samples: np.ndarray, rate: int) -> np.ndarray:
    spectrum = np.fft.rfft(samples)
    spectrum[..., np.fft.rfftfreq(samples.shape[-1], 1 / rate) < 8000] = 0
    return np.fft.irfft(spectrum, samples.shape[-1])


def test_noise_only_frames_are_turned_down_to_the_floor_and_speech_frames_hold_the_estimate():
    """Noise above 8 kHz marked noise-only for 1 s, then noise plus a louder band marked speech."""
    rate, rng = 48000, np.random.default_rng(0)
    settings = HighBandSettings(floor_db=-20.0)
    denoiser = HighBandDenoiser(rate, 1, settings)
    hop = settings.hop(rate)
    noise = _above_8_khz(0.01 * rng.standard_normal((1, rate * 2)), rate)
    loud = noise.copy()
    loud[:, rate:] += _above_8_khz(0.05 * rng.standard_normal((1, rate)), rate)
    absence = np.r_[np.ones(rate // hop), np.zeros(rate // hop)][None]
    silent_model = np.zeros_like(loud)  # the model's band holds nothing here
    out = denoiser.process(loud, absence, silent_model, silent_model)[0]
    settled_noise = out[rate // 2 : rate]  # one hop late; the estimate has met the noise by then
    assert 10 * np.log10(np.mean(settled_noise**2) / np.mean(noise[0, rate // 2 : rate] ** 2)) < -15
    speech_part = out[rate + rate // 4 :]
    assert abs(10 * np.log10(np.mean(speech_part**2) / np.mean(loud[0, rate + rate // 4 - hop : -hop] ** 2))) < 1.0


def test_below_8_khz_the_band_takes_the_models_own_gain():
    """A tone at 7.6 kHz (inside the crossover) that the model halved: the band's share of it is halved too."""
    rate = 48000
    settings = HighBandSettings()
    denoiser = HighBandDenoiser(rate, 1, settings)
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 7600 * t)[None]
    out = denoiser.process(tone, np.zeros((1, rate // settings.hop(rate))), 0.5 * tone, tone)[0]
    settled = out[rate // 4 : -rate // 4]
    assert abs(np.sqrt(np.mean(settled**2)) / np.sqrt(0.5) - 0.5) < 0.02
