import numpy as np

from cmkt.data.augment.pause import PAUSE_SECONDS, Pause
from cmkt.data.augment.registry import parse_augmentations
from cmkt.data.mixing import Mixer, active_rms, load_mixer, rms
from cmkt.training.trainer import train
from tests.conftest import tiny_train_config, tone, white_noise_mixing
from tests.data.augment.conftest import example_of


def test_speech_gets_silence_before_and_after_it_unchanged_in_between():
    speech = tone(1.0, 16000, freq=220.0)
    padded = 0
    for seed in range(40):
        example = example_of(speech)
        Pause()(example, np.random.default_rng(seed), None)
        assert example.heard is example.target  # the room and the mix hear the padded speech
        if len(example.target) == len(speech):
            continue
        padded += 1
        lead, tail = example.drawn["pause_samples"]
        for side in (lead, tail):
            assert PAUSE_SECONDS[0] * 16000 - 1 <= side <= PAUSE_SECONDS[1] * 16000
        assert len(example.target) == lead + len(speech) + tail and example.target.dtype == np.float32
        assert not example.target[:lead].any() and not example.target[lead + len(speech) :].any()
        assert np.array_equal(example.target[lead : lead + len(speech)], speech)
    assert 10 <= padded <= 30  # p 0.5 of 40
    again = [example_of(speech) for _ in range(2)]
    for example in again:
        Pause(1.0)(example, np.random.default_rng(7), None)
    assert np.array_equal(again[0].target, again[1].target)


def test_the_mixture_has_noise_alone_in_the_pauses_at_the_snr_drawn_on_active_speech(tmp_path):
    mixer = Mixer(white_noise_mixing(tmp_path), augmentations=parse_augmentations("pause=1"))
    speech = tone(1.0, 16000, freq=220.0)
    for seed in range(5):
        target, noisy, drawn = mixer.mix(speech, "train", np.random.default_rng(seed))
        lead, tail = drawn["pause_samples"]
        assert len(target) == len(noisy) == lead + len(speech) + tail
        assert not target[:lead].any() and not target[-tail:].any()
        noise = noisy - target
        assert rms(noisy[:lead]) > 0.5 * rms(noise)  # the noise goes on where the speech has not begun
        snr = 20 * np.log10(active_rms(target, 16000) / rms(noise))
        assert abs(snr - drawn["snr_db"]) < 0.05  # the pauses do not dilute the speech level
    valid = mixer.mix(speech, "valid", np.random.default_rng(0))
    assert len(valid[0]) == len(speech)  # train only


def test_training_with_pauses(prepared, tmp_path):
    assert [step.name for step in load_mixer(prepared, "pause,level").augmentations] == ["pause", "level"]
    config = tiny_train_config(prepared, tmp_path / "run", dynamic_mixing=True, augment="pause,level")
    assert train(config).is_file()
