import numpy as np

from cmkt.data.augment.level import SPEECH_DBFS, Level
from cmkt.data.mixing import PEAK_LIMIT, active_rms
from tests.conftest import tone
from tests.data.augment.conftest import example_of


def test_speech_lands_in_the_level_range_with_its_snr_kept_and_a_few_mixtures_clipped():
    speech = tone(2.0, 16000, freq=300.0, amp=0.3).astype(np.float32)
    noise = (np.random.default_rng(0).standard_normal(len(speech)) * 0.05).astype(np.float32)
    levels, clipped = [], 0
    for seed in range(300):
        example = example_of(speech, noisy=speech + noise)
        Level()(example, np.random.default_rng(seed), None)
        gain = example.target[1000] / speech[1000]
        if example.drawn.get("clipped"):
            clipped += 1
            assert (
                np.abs(example.noisy).max() == 1.0 and np.abs(example.target).max() > np.abs(example.noisy).max() * 0.5
            )
            assert np.allclose(example.target, speech * gain, atol=1e-5)  # the target is never clipped
            continue
        levels.append(20 * np.log10(active_rms(example.target, 16000)))
        assert np.abs(example.noisy).max() <= PEAK_LIMIT + 1e-6
        assert np.allclose(example.noisy, (speech + noise) * gain, atol=1e-5)  # the SNR stays as mixed
    assert SPEECH_DBFS[0] - 0.01 <= min(levels) and max(levels) <= SPEECH_DBFS[1] + 0.01
    assert min(levels) < SPEECH_DBFS[0] + 3 and max(levels) > SPEECH_DBFS[1] - 3
    assert 2 <= clipped <= 20  # p 0.03 of 300
