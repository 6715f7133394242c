import numpy as np
import pytest

from cmkt.data.augment.registry import AUGMENTATIONS, normalise_spec, parse_augmentations
from cmkt.data.mixing import Mixer
from cmkt.errors import CmktError
from tests.conftest import tone, white_noise_mixing


def test_a_list_runs_in_one_order_whatever_its_spelling(rir_folder):
    steps = parse_augmentations("level, band_limit=0.5,noise,reverb,speech_eq", rir_folder)
    assert [s.name for s in steps] == ["speech_eq", "reverb", "noise", "level", "band_limit"]
    assert [s.p for s in steps] == [0.5, 0.3, 1.0, 1.0, 0.5]
    assert (
        normalise_spec("level,band_limit=0.2,noise")
        == normalise_spec("noise, band_limit, level")
        == "noise,level,band_limit"
    )
    assert normalise_spec("band_limit=0.5") == "band_limit=0.5" and normalise_spec("") == ""


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nosie", "unknown augmentation 'nosie'; choose from"),
        ("noise=often", "not a number"),
        ("level=0", r"must lie in \(0, 1\]"),
        ("level=1.5", "must lie in"),
        ("level=nan", "must lie in"),
        ("noise,noise", "named twice"),
        ("reverb,reverb_dry", "choose one"),
    ],
)
def test_a_bad_list_is_one_clear_line(spec, message):
    with pytest.raises(CmktError, match=message):
        parse_augmentations(spec)


def test_every_augmentation_changes_train_mixtures_only_and_repeats_with_its_seed(rir_folder, tmp_path):
    config = white_noise_mixing(tmp_path)
    plain = Mixer(config)
    clean = tone(2.0, 16000, freq=200.0, amp=0.3)
    for name in AUGMENTATIONS:
        mixer = Mixer(config, augmentations=parse_augmentations(f"{name}=1", rir_folder))
        first = mixer.mix(clean, "train", np.random.default_rng(4))
        again = mixer.mix(clean, "train", np.random.default_rng(4))
        assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1]), name
        changed = [
            not np.array_equal(
                mixer.mix(clean, "train", np.random.default_rng(s))[1],
                plain.mix(clean, "train", np.random.default_rng(s))[1],
            )
            for s in range(4)
        ]
        assert any(changed), name
        for split in ("valid", "test"):
            a, b = mixer.mix(clean, split, np.random.default_rng(4)), plain.mix(clean, split, np.random.default_rng(4))
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (name, split)
