import numpy as np
import pytest

from cmkt.data.augment.registry import parse_augmentations
from cmkt.data.augment.reverb import EARLY_MS, DryReverb, Reverb, early_part
from cmkt.data.mixing import Mixer
from cmkt.errors import CmktError
from tests.conftest import white_noise_mixing
from tests.data.augment.conftest import example_of, room_response


def burst() -> np.ndarray:
    """0.5 s of noise then 1.5 s of silence: a room's tail shows in the silence."""
    x = np.zeros(32000, dtype=np.float32)
    x[:8000] = np.random.default_rng(1).standard_normal(8000) * 0.1
    return x


def tail_energy(x: np.ndarray) -> float:
    return float(np.sum(x[8000 + 1600 :] ** 2))  # from 100 ms after the burst ends


def test_the_microphone_hears_the_room_and_the_target_keeps_only_early_reflections(rir_folder, tmp_path):
    speech = burst()
    example = example_of(speech)
    Reverb(1.0, rirs=rir_folder)(example, np.random.default_rng(0), Mixer(white_noise_mixing(tmp_path)))
    assert example.drawn["rir"].startswith("room")
    assert example.heard.shape == example.target.shape == speech.shape
    assert tail_energy(example.heard) > 100 * tail_energy(example.target)  # the late tail is in the mixture only
    assert tail_energy(example.target) < 1e-6 * float(np.sum(speech**2)) + 1e-12
    # aligned at the direct path: the target's onset is the speech's, sample for sample
    lag = int(np.argmax(np.correlate(example.target[:4000], speech[:4000], "full"))) - 3999
    assert lag == 0


def test_the_early_part_ends_after_early_ms():
    rir = room_response()
    early = early_part(rir, 16000)
    end = 80 + int(EARLY_MS / 1000 * 16000)
    assert np.array_equal(early[:end], rir[:end]) and not early[end + 200 :].any()


def test_dry_reverb_keeps_the_dry_target_and_valid_examples_stay_dry(rir_folder, tmp_path):
    speech = burst()
    example = example_of(speech)
    DryReverb(1.0, rirs=rir_folder)(example, np.random.default_rng(0), Mixer(white_noise_mixing(tmp_path)))
    assert example.target is speech and tail_energy(example.heard) > 0
    untouched = example_of(speech, split="valid")
    Reverb(1.0, rirs=rir_folder)(untouched, np.random.default_rng(0), None)
    assert untouched.heard is speech and untouched.target is speech


def test_the_mixer_draws_rooms_at_the_asked_rate_and_names_them(rir_folder, tmp_path):
    mixer = Mixer(white_noise_mixing(tmp_path), augmentations=parse_augmentations("reverb=0.5", rir_folder))
    rooms = [mixer.mix(burst(), "train", np.random.default_rng(seed))[2]["rir"] for seed in range(40)]
    assert 10 <= sum(bool(r) for r in rooms) <= 30
    assert not any(mixer.mix(burst(), "valid", np.random.default_rng(seed))[2]["rir"] for seed in range(10))


def test_reverb_without_rooms_says_how_to_get_them(tmp_path):
    with pytest.raises(CmktError, match="needs rooms: pass --rirs"):
        parse_augmentations("reverb")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CmktError, match="no impulse responses"):
        parse_augmentations("reverb_dry", tmp_path / "empty")
