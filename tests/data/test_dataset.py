import numpy as np
import pytest
import torch

from cmkt.data.dataset import SEDataset
from cmkt.data.prep import load_mixer
from cmkt.errors import CmktError
from cmkt.train import TrainConfig, train


def test_dynamic_mixing_draws_afresh_each_epoch_and_repeats_with_the_seed(prepared):
    mixer = load_mixer(prepared)
    dataset = SEDataset(prepared / "train.jsonl", 16000, max_seconds=30.0, seed=0, mixer=mixer)
    first = dataset[0]
    again = dataset[0]
    dataset.epoch = 1
    later = dataset[0]
    assert torch.equal(first["noisy"], again["noisy"]) and not torch.equal(first["noisy"], later["noisy"])
    stored = SEDataset(prepared / "train.jsonl", 16000, max_seconds=30.0)[0]
    assert np.corrcoef(stored["clean"].numpy(), first["clean"].numpy())[0, 1] > 0.9999  # the same speech (up to the clip guard's scale)
    residual = (later["noisy"] - later["clean"]).numpy()
    assert np.std(residual) > 0  # noise was added


def test_dynamic_mixing_trains_and_needs_prep_settings(prepared, tmp_path):
    config = TrainConfig(str(prepared / "train.jsonl"), str(prepared / "valid.jsonl"), str(tmp_path / "run"), steps=2, batch_size=2,
                         valid_every=2, valid_items=1, model={"hidden": 32}, dynamic_mixing=True)
    assert train(config).is_file()
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "train.jsonl").write_text((prepared / "train.jsonl").read_text().replace('"train/', f'"{prepared}/train/'))
    with pytest.raises(CmktError, match="no mixing settings"):
        load_mixer(tmp_path / "copy")
