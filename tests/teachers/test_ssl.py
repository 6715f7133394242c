"""SSL teachers on small random-weight torchaudio models built here (no download)."""

import json

import pytest
import torch

from cmkt.errors import CmktError
from cmkt.teachers.ssl import SSLHead, SSLSpec, SSLTeacher
from tests.conftest import tiny_train_config

TINY = {
    "extractor_mode": "group_norm",
    "extractor_conv_layer_config": [[16, 10, 5], [16, 3, 2], [16, 2, 2]],
    "extractor_conv_bias": False,
    "encoder_embed_dim": 24,
    "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 8,
    "encoder_pos_conv_groups": 4,
    "encoder_num_layers": 3,
    "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.0,
    "encoder_ff_interm_features": 32,
    "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.0,
    "encoder_layer_norm_first": False,
    "encoder_layer_drop": 0.0,
    "aux_num_out": None,
}


def write_teacher(folder, kind: str = "wav2vec2", layers=(1, 3)) -> str:
    import torchaudio.models as models

    config = dict(TINY)
    if kind == "wavlm":
        config.update(encoder_num_buckets=8, encoder_max_distance=32)
        model = models.wavlm_model(**config)
    else:
        model = models.wav2vec2_model(**config)
    torch.save(model.state_dict(), folder / f"{kind}.pt")
    spec = {
        "kind": kind,
        "config": config,
        "weights": f"{kind}.pt",
        "layers": list(layers),
        "layer_weights": [0.3, 0.7],
    }
    (folder / f"{kind}.json").write_text(json.dumps(spec))
    return str(folder / f"{kind}.json")


@pytest.mark.parametrize("kind", ["wav2vec2", "wavlm"])
def test_teacher_gives_layer_features_and_gradients_reach_only_the_student(tmp_path, kind):
    teacher = SSLTeacher(SSLSpec.read(write_teacher(tmp_path, kind)))
    clean = torch.randn(2, 8000)
    targets, mask = teacher(clean, torch.tensor([8000, 6000]))
    assert len(targets) == 2 and targets[0].shape[2] == 24 and mask[1].sum() < mask[0].sum()
    assert not torch.equal(targets[0], targets[1])  # different layers
    head = SSLHead(32, teacher.dims, [0.3, 0.7])
    tap = torch.randn(2, 63, 32, requires_grad=True)  # a student at 125 frames/s, the teacher at 50
    loss = head.loss(tap, targets, mask)
    loss.backward()
    assert tap.grad.abs().sum() > 0 and all(p.grad is None for p in teacher.parameters())
    assert not any(p.requires_grad for p in teacher.parameters())


def test_identical_features_give_zero_loss():
    head = SSLHead(8, [8], [1.0])
    with torch.no_grad():
        head.projections[0].weight.copy_(torch.eye(8))
        head.projections[0].bias.zero_()
    tap = torch.randn(1, 20, 8)
    assert head.loss(tap, [tap.clone()], torch.ones(1, 20, dtype=torch.bool)).abs() < 1e-6


def test_bad_spec_files_are_clear_errors(tmp_path):
    (tmp_path / "bad.json").write_text('{"kind": "whisper", "config": {}, "weights": "x.pt", "layers": [1]}')
    with pytest.raises(CmktError, match="kind 'whisper'"):
        SSLSpec.read(tmp_path / "bad.json")
    path = write_teacher(tmp_path)
    (tmp_path / "wav2vec2.pt").write_bytes(b"truncated")
    with pytest.raises(CmktError, match="cannot load the SSL teacher's weights"):
        SSLTeacher(SSLSpec.read(path))


def test_training_with_the_lm_and_an_ssl_teacher_together(prepared, tmp_path):
    import csv

    from cmkt.training.trainer import train

    config = tiny_train_config(prepared, tmp_path / "run", ssl_teacher=write_teacher(tmp_path), ssl_weight=0.5)
    train(config)
    row = list(csv.DictReader((tmp_path / "run" / "train_log.csv").open()))[-1]
    assert float(row["l_ssl"]) > 0 and float(row["l_cma"]) > 0


def test_a_layer_the_teacher_lacks_and_weights_of_another_shape_are_named_at_start(tmp_path):
    with pytest.raises(CmktError, match=r"layers \[7\]: this wav2vec2 has layers 1 to 3"):
        SSLTeacher(SSLSpec.read(write_teacher(tmp_path, layers=(1, 7))))
    path = write_teacher(tmp_path)
    spec = json.loads(open(path).read())
    spec["config"]["encoder_embed_dim"] = 32  # not the shape the weights were saved with
    (tmp_path / "other.json").write_text(json.dumps(spec))
    with pytest.raises(CmktError) as caught:
        SSLTeacher(SSLSpec.read(tmp_path / "other.json"))
    message = str(caught.value)
    assert "do not fit the teacher's config" in message and "of another shape" in message
    assert message.endswith("give the config of the model that saved them")  # whole, not cut mid-word


def test_an_ssl_only_run_is_not_called_a_baseline_and_two_ssl_teachers_are_refused(prepared, tmp_path):
    from typer.testing import CliRunner

    from cmkt.cli import app

    teacher = write_teacher(tmp_path)
    base = [
        "train",
        "--train",
        str(prepared / "train.jsonl"),
        "--valid",
        str(prepared / "valid.jsonl"),
        "--teacher",
        "none",
        "--model-config",
        '{"hidden": 16}',
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--valid-every",
        "2",
        "--valid-items",
        "1",
    ]
    result = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "run"), "--ssl-teacher", teacher], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "training" in result.output and "(baseline)" not in result.output
    twice = CliRunner().invoke(
        app, [*base, "-o", str(tmp_path / "two"), "--ssl-teacher", teacher, "--ssl-teacher", teacher]
    )
    assert twice.exit_code == 1 and "--ssl-teacher given 2 times" in twice.output
