import numpy as np
import pytest
import torch

from cmkt.data.dataset import SEDataset
from cmkt.data.mixing import load_mixer
from cmkt.errors import CmktError
from cmkt.training.trainer import train
from tests.conftest import tiny_train_config


def test_dynamic_mixing_draws_afresh_each_epoch_and_repeats_with_the_seed(prepared):
    mixer = load_mixer(prepared)
    dataset = SEDataset(prepared / "train.jsonl", 16000, max_seconds=30.0, seed=0, mixer=mixer)
    first = dataset[0]
    again = dataset[0]
    dataset.epoch = 1
    later = dataset[0]
    assert torch.equal(first["noisy"], again["noisy"]) and not torch.equal(first["noisy"], later["noisy"])
    stored = SEDataset(prepared / "train.jsonl", 16000, max_seconds=30.0)[0]
    assert (
        np.corrcoef(stored["clean"].numpy(), first["clean"].numpy())[0, 1] > 0.9999
    )  # the same speech (up to the clip guard's scale)
    residual = (later["noisy"] - later["clean"]).numpy()
    assert np.std(residual) > 0  # noise was added


def test_dynamic_mixing_trains_and_needs_prep_settings(prepared, tmp_path):
    config = tiny_train_config(prepared, tmp_path / "run", dynamic_mixing=True)
    assert train(config).is_file()
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "train.jsonl").write_text(
        (prepared / "train.jsonl").read_text().replace('"train/', f'"{prepared}/train/')
    )
    with pytest.raises(CmktError, match="no mixing settings"):
        load_mixer(tmp_path / "copy")


def test_step_batches_depend_on_the_step_alone_and_ranks_split_them(prepared):
    from cmkt.data.dataset import StepBatches

    dataset = SEDataset(prepared / "train.jsonl", 16000, 4.0, None, seed=1, mixer=load_mixer(prepared))
    batches = StepBatches(dataset, batch_size=2, seed=1)
    later = batches[batches.batches_per_epoch + 1]  # a batch of the second epoch, asked for first
    first = batches[0]
    assert batches[batches.batches_per_epoch + 1]["ids"] == later["ids"]
    assert torch.equal(batches[batches.batches_per_epoch + 1]["noisy"], later["noisy"])
    assert torch.equal(batches[0]["noisy"], first["noisy"]) and len(first["ids"]) == 2
    halves = [StepBatches(dataset, 2, seed=1, share=(rank, 2))[0]["ids"] for rank in (0, 1)]
    assert halves[0] + halves[1] == first["ids"]
