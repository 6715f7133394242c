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


def _band(samples: np.ndarray, rate: int, above: bool) -> np.ndarray:
    spectrum = np.fft.rfft(samples)
    below = np.fft.rfftfreq(samples.shape[-1], 1 / rate) < 8000
    spectrum[..., below if above else ~below] = 0
    return np.fft.irfft(spectrum, samples.shape[-1])


def test_noise_only_frames_are_turned_down_and_speech_frames_hold_the_estimate():
    """Noise above 8 kHz for 2 s; for the first the model turned its own band down 40 dB (noise only),
    for the second it kept it (speech) while the band above 8 kHz grew 14 dB louder."""
    rate, rng = 48000, np.random.default_rng(0)
    settings = HighBandSettings()
    denoiser = HighBandDenoiser(rate, 16000, 1, settings)
    hop = settings.hop(rate)
    noise = _band(0.01 * rng.standard_normal((1, rate * 2)), rate, above=True)
    loud = noise.copy()
    loud[:, rate:] += _band(0.05 * rng.standard_normal((1, rate)), rate, above=True)
    model_in = _band(0.1 * rng.standard_normal((1, rate * 2)), rate, above=False)
    model_out = model_in * np.r_[np.full(rate, 0.01), np.ones(rate)]
    out = denoiser.process(loud, model_out, model_in)[0]
    settled_noise = out[rate // 2 : rate]  # one hop late; the estimate has met the noise by then
    assert 10 * np.log10(np.mean(settled_noise**2) / np.mean(noise[0, rate // 2 : rate] ** 2)) < -15
    speech_part = out[rate + rate // 4 :]
    kept_db = 10 * np.log10(np.mean(speech_part**2) / np.mean(loud[0, rate + rate // 4 - hop : -hop] ** 2))
    assert kept_db > -3.0  # measured -1.9 (the Wiener gain at 14 dB, oversubtracted); an estimate that followed
    # the louder band would have taken it down to the floor, 30 dB


def test_below_8_khz_the_band_takes_the_models_own_gain():
    """A tone at 7.6 kHz (inside the crossover) that the model halved: the band's share of it is halved too."""
    rate = 48000
    settings = HighBandSettings()
    denoiser = HighBandDenoiser(rate, 16000, 1, settings)
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 7600 * t)[None]
    out = denoiser.process(tone, 0.5 * tone, tone)[0]
    settled = out[rate // 4 : -rate // 4]
    assert abs(np.sqrt(np.mean(settled**2)) / np.sqrt(0.5) - 0.5) < 0.02
