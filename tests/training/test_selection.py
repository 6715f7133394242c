import csv

import pytest

from cmkt.registry import load_model
from cmkt.training.selection import validate, validation_set
from cmkt.training.trainer import train
from tests.conftest import tiny_train_config


def test_validation_set_scores_a_kept_model_as_its_run_logged_it(prepared, tmp_path):
    """bench/valid_score.py relies on this: the same items, crop and seed give the run's own valid row."""
    config = tiny_train_config(prepared, tmp_path / "run", valid_items=2, max_seconds=1.0, seed=3)
    model, meta = load_model(train(config))
    with open(tmp_path / "run" / "train_log.csv", newline="") as handle:
        logged = [row for row in csv.DictReader(handle) if row.get("val_pesq_wb")][-1]
    dataset = validation_set(prepared / "valid.jsonl", meta["sample_rate"], config.max_seconds, seed=config.seed)
    assert dataset.max_len == 4 * meta["sample_rate"]
    scores = validate(model, dataset, config.valid_items)
    assert scores["val_pesq_wb"] == pytest.approx(float(logged["val_pesq_wb"]), abs=1e-4)
    assert scores["val_stoi"] == pytest.approx(float(logged["val_stoi"]), abs=1e-4)
