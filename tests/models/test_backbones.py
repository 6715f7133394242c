"""Every registered backbone: shapes, its tap, gradients, and training through the same loop."""

import pytest
import torch

from cmkt.registry import ARCHITECTURES, build_model
from tests.conftest import tiny_train_config

SMALL = {
    "stft-mask-gru": {"hidden": 32},
    "conv-tasnet": {
        "enc_num_feats": 64,
        "msk_num_feats": 32,
        "msk_num_hidden_feats": 64,
        "msk_num_layers": 4,
        "msk_num_stacks": 1,
    },
    "conformer-mask": {"dim": 32, "ffn_dim": 64, "layers": 2},
}


def test_at_least_three_backbones_are_registered():
    assert set(SMALL) <= set(ARCHITECTURES)


@pytest.mark.parametrize("name", list(SMALL))
def test_backbone_returns_audio_and_a_tap_at_its_frame_rate(name):
    torch.manual_seed(0)
    model = build_model(name, SMALL[name])
    wave = torch.randn(2, 12345, requires_grad=True)
    enhanced, tap = model(wave)
    assert enhanced.shape == wave.shape and torch.isfinite(enhanced).all()
    assert tap.shape[0] == 2 and tap.shape[2] == model.tap_dim
    assert abs(tap.shape[1] - 12345 / model.tap_hop) <= 4 and model.frame_rate == 16000 / model.tap_hop
    tap.square().mean().backward()
    reached = [p for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert (
        reached and wave.grad is not None and wave.grad.abs().sum() > 0
    )  # the tap's loss reaches the input and the layers below it


@pytest.mark.parametrize("name", ["conv-tasnet", "conformer-mask"])
def test_non_causal_backbones_train_in_the_same_loop(prepared, tmp_path, name):
    from cmkt.training.trainer import train

    config = tiny_train_config(prepared, tmp_path / name, arch=name, model=SMALL[name], max_seconds=1.0)
    best = train(config)
    from cmkt.registry import load_model

    model, meta = load_model(best)
    assert meta["arch"] == name and not model.streaming
