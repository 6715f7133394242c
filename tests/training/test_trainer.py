import csv

import pytest
import torch

from cmkt.registry import load_model
from cmkt.training.trainer import TrainConfig, train
from tests.conftest import tiny_train_config


def _config(prepared, out, steps, teacher="auto", **settings):
    return tiny_train_config(prepared, out, steps, teacher=teacher, **{"seed": 3, **settings})


def test_checkpoint_is_self_describing(trained_model):
    model, meta = load_model(trained_model)
    assert meta["arch"] == "stft-mask-gru" and meta["config"]["hidden"] == 64
    assert meta["sample_rate"] == 16000 and meta["steps"] in (2, 4)
    assert set(meta["metrics"]) == {"val_pesq_wb", "val_stoi"} and meta["train_data"]
    rows = list(csv.DictReader(open(trained_model.parent / "train_log.csv")))
    assert float(rows[-1]["l_cma"]) > 0  # the distillation loss was active
    assert (trained_model.parent / "training_curves.png").stat().st_size > 0


def test_resume_continues_exactly(prepared, tmp_path):
    train(_config(prepared, tmp_path / "straight", 4))
    train(_config(prepared, tmp_path / "interrupted", 2))
    train(_config(prepared, tmp_path / "interrupted", 4), resume=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_baseline_has_no_distillation_loss(prepared, tmp_path):
    train(_config(prepared, tmp_path / "base", 2, teacher="none"))
    rows = list(csv.DictReader(open(tmp_path / "base" / "train_log.csv")))
    assert all(float(r["l_cma"]) == 0 for r in rows)


@pytest.mark.parametrize("align", ["uot", "tot", "uniform"])
def test_every_alignment_trains_logs_and_draws_its_alignment(prepared, tmp_path, align):
    config = tiny_train_config(prepared, tmp_path / align, align=align)
    train(config)
    rows = list(csv.DictReader((tmp_path / align / "train_log.csv").open()))
    assert float(rows[-1]["l_cma"]) > 0
    if align in ("uot", "tot"):
        assert 0 <= float(rows[-1]["unmatched"]) < 1
    assert (tmp_path / align / "alignment.png").stat().st_size > 0


def test_validations_since_best_counts_from_the_first_best():
    from cmkt.training.selection import validations_since_best

    rows = [{"val_pesq_wb": v} for v in ("1.2", "", "1.5", "1.4", "1.5", "1.3")]
    assert validations_since_best(rows) == 3  # the first 1.5 stays the best; 1.4, 1.5 (a tie) and 1.3 came after
    assert validations_since_best([]) == 0
    by_stoi = [
        {"val_pesq_wb": p, "val_stoi": q}
        for p, q in (("1.2", "0.80"), ("1.5", "0.78"), ("1.4", "0.81"), ("1.3", "0.79"))
    ]
    assert validations_since_best(by_stoi, {"stoi": 1}) == 1 and validations_since_best(by_stoi) == 2


def test_select_keeps_the_checkpoint_its_weighted_metrics_rank_best(prepared, tmp_path):
    """--select stoi keeps the validation with the highest STOI, which the log records; bad specs are clear errors."""
    from cmkt.errors import CmktError

    train(_config(prepared, tmp_path / "run", 8, teacher="none", select="stoi", lr=3e-3))
    rows = [r for r in csv.DictReader((tmp_path / "run" / "train_log.csv").open()) if r["val_stoi"]]
    kept = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    best = max(rows, key=lambda r: (float(r["val_stoi"]), -int(r["step"])))
    assert kept["steps"] == int(best["step"]) and kept["metrics"]["val_stoi"] == pytest.approx(
        float(best["val_stoi"]), abs=1e-4
    )
    with pytest.raises(CmktError, match="--select: unknown term 'sdr'"):
        train(_config(prepared, tmp_path / "bad", 2, select="sdr=1"))


def test_patience_stops_training_early(prepared, tmp_path):
    config = tiny_train_config(prepared, tmp_path / "run", 40, valid_every=1, lr=0.0, patience=2, teacher="none")
    train(config)
    rows = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))
    assert int(rows[-1]["step"]) == 3  # lr 0: nothing improves after the first validation


@pytest.mark.parametrize("flag", ["amp", "compile"])
def test_mixed_precision_and_compile_train_to_finite_losses(prepared, tmp_path, flag):
    config = tiny_train_config(prepared, tmp_path / flag, **{flag: True})
    best = train(config)
    rows = list(csv.DictReader((tmp_path / flag / "train_log.csv").open()))
    assert best.is_file() and all(float(r["loss"]) == float(r["loss"]) for r in rows)  # no NaN
    model, _ = load_model(best)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_cosine_decay_runs_from_lr_to_a_tenth_and_resumes_exactly(prepared, tmp_path, monkeypatch):
    from cmkt.errors import CmktError
    from cmkt.training.schedule import learning_rate

    config = TrainConfig("t", "v", "o", steps=100, lr=1e-3, lr_decay="cosine")
    rates = [learning_rate(config, step) for step in range(101)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4) and rates[50] == pytest.approx(5.5e-4)
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert learning_rate(TrainConfig("t", "v", "o", lr=2e-3), 7) == 2e-3  # default: constant
    with pytest.raises(CmktError, match="lr-decay"):
        learning_rate(TrainConfig("t", "v", "o", lr_decay="linear"), 0)
    import cmkt.training.trainer as training

    train(_config(prepared, tmp_path / "straight", 4, lr_decay="cosine"))
    write_log = training.write_csv_atomic

    def killed_after_first_checkpoint(*args, **kwargs):
        write_log(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "write_csv_atomic", killed_after_first_checkpoint)
    with pytest.raises(KeyboardInterrupt):  # the schedule depends on --steps, so the kill comes mid-run
        train(_config(prepared, tmp_path / "interrupted", 4, lr_decay="cosine"))
    monkeypatch.undo()
    train(_config(prepared, tmp_path / "interrupted", 4, lr_decay="cosine"), resume=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_loader_workers_train_the_same_weights_and_may_change_on_resume(prepared, tmp_path):
    train(_config(prepared, tmp_path / "in_process", 4, dynamic_mixing=True))
    train(_config(prepared, tmp_path / "workers", 2, dynamic_mixing=True, workers=2))
    train(_config(prepared, tmp_path / "workers", 4, dynamic_mixing=True, workers=1), resume=True)
    a = torch.load(tmp_path / "in_process" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "workers" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_training_device_is_a_clear_error(prepared, tmp_path):
    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="--device 'no-such-device'.*use --device cpu"):
        train(_config(prepared, tmp_path / "run", 2, device="no-such-device"))
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_gpu_resumes_on_cpu(prepared, tmp_path):
    train(_config(prepared, tmp_path / "run", 2, device="cuda", workers=2))
    train(_config(prepared, tmp_path / "run", 4, device="cpu"), resume=True)
    rows = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))
    assert int(rows[-1]["step"]) == 4 and all(torch.isfinite(torch.tensor(float(r["loss"]))) for r in rows)
    model, _ = load_model(tmp_path / "run" / "model.pt")
    assert next(model.parameters()).device.type == "cpu"


def test_init_fine_tunes_from_a_trained_model_and_resumes_exactly(prepared, trained_model, tmp_path):
    start, _ = load_model(trained_model)
    settings = dict(init=str(trained_model), model={})
    train(_config(prepared, tmp_path / "straight", 4, **settings))
    train(_config(prepared, tmp_path / "interrupted", 2, **settings))
    train(_config(prepared, tmp_path / "interrupted", 4, **settings), resume=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    tuned, meta = load_model(tmp_path / "straight" / "model.pt")
    assert meta["config"]["hidden"] == 64 and meta["init"] == str(
        trained_model
    )  # the backbone of the start, not _config's 32
    moved = [(tuned.state_dict()[k] - v).abs().max().item() for k, v in start.state_dict().items()]
    assert 0 < max(moved) < 0.1  # trained on from the start's weights: changed, but only by a few small steps


def test_init_can_grow_a_deep_filter_that_starts_at_zero_and_learns(prepared, trained_model, tmp_path):
    from cmkt.training.starting_weights import load_starting_weights
    from cmkt.registry import build_model

    start, meta = load_model(trained_model)
    grown = build_model("stft-mask-gru", {**meta["config"], "deep_filter_order": 2})
    load_starting_weights(grown, start.state_dict())
    assert not grown.deep_filter.weight.any()
    train(_config(prepared, tmp_path / "grown", 2, init=str(trained_model), model={"deep_filter_order": 2}))
    tuned, tuned_meta = load_model(tmp_path / "grown" / "model.pt")
    assert tuned_meta["config"] == {**meta["config"], "deep_filter_order": 2}
    assert tuned.deep_filter.weight.abs().max() > 0  # the new layer trained from its zero start


def test_init_can_grow_a_linguistic_branch_that_the_teacher_trains(prepared, trained_model, tmp_path):
    start, meta = load_model(trained_model)
    train(_config(prepared, tmp_path / "branch", 2, init=str(trained_model), model={"tap": "branch"}))
    tuned, tuned_meta = load_model(tmp_path / "branch" / "model.pt")
    assert tuned_meta["config"] == {**meta["config"], "tap": "branch"}
    assert tuned.branch_feedback.weight.abs().max() > 0  # the way back into the mask path trained from zero
    assert tuned.tap_dim == tuned.config.branch_hidden


def test_init_with_another_backbone_size_is_a_clear_error(prepared, trained_model, tmp_path):
    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="drop --arch/--model-config"):
        train(
            _config(prepared, tmp_path / "clash", 2, init=str(trained_model))
        )  # _config asks for hidden 32; it has 64


def test_a_run_started_with_the_old_augmentation_flags_resumes_exactly_under_its_augment_list(prepared, tmp_path):
    """Runs saved before `--augment` existed carry noise_augment/speech_eq booleans; they mean a list."""
    from cmkt.errors import CmktError
    from cmkt.registry import load_payload, save_torch

    settings = dict(dynamic_mixing=True, augment="noise,speech_eq")
    train(_config(prepared, tmp_path / "straight", 4, **settings))
    train(_config(prepared, tmp_path / "old", 2, **settings))
    state = load_payload(tmp_path / "old" / "checkpoint.pt")
    old = {k: v for k, v in state["config"].items() if k not in ("augment", "rirs")}
    state["config"] = {**old, "noise_augment": True, "speech_eq": True, "noise_envelope": False}
    save_torch(tmp_path / "old" / "checkpoint.pt", state)
    with pytest.raises(CmktError, match="other settings"):
        train(_config(prepared, tmp_path / "old", 4, dynamic_mixing=True, augment="noise"), resume=True)
    train(_config(prepared, tmp_path / "old", 4, dynamic_mixing=True, augment="speech_eq, noise"), resume=True)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "old" / "checkpoint.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_the_log_keeps_its_clock_across_resume_and_logs_the_mean_loss_of_each_interval(prepared, tmp_path, monkeypatch):
    import cmkt.training.trainer as training

    seen = []
    real = training.batch_losses

    def recording(*args, **kwargs):
        terms = real(*args, **kwargs)
        seen.append(terms["loss"].item())
        return terms

    monkeypatch.setattr(training, "batch_losses", recording)
    train(_config(prepared, tmp_path / "run", 10, valid_every=5, teacher="none"))
    rows = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [5, 10]
    assert float(rows[1]["loss"]) == pytest.approx(sum(seen[5:10]) / 5, abs=1e-4)  # steps 6-10, not step 10 alone
    train(_config(prepared, tmp_path / "run", 15, valid_every=5, teacher="none"), resume=True)
    rows = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))
    clocks = [float(r["seconds"]) for r in rows]
    assert clocks == sorted(clocks) and clocks[2] > clocks[1]  # the clock runs on after --resume
