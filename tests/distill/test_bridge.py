import torch

from cmkt.distill.bridge import AttentionBridge
from cmkt.distill.losses import cosine_distill_loss
from cmkt.distill.shift import temporal_shift
from cmkt.registry import build_model


def test_shift_moves_frames_and_masks_together():
    tap = torch.arange(10.0).reshape(1, 10, 1)
    mask = torch.ones(1, 10, dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    shifted, shifted_mask = temporal_shift(tap, mask, max_shift=3, prob=1.0, generator=gen)
    offset = int(shifted_mask.float().argmax()) if not shifted_mask[0, 0] else -(10 - int(shifted_mask.sum()))
    kept = shifted[0, shifted_mask[0], 0]
    assert len(kept) == 10 - abs(offset) and torch.equal(kept, kept.sort().values)
    assert torch.equal(temporal_shift(tap, mask, 3, 0.0)[0], tap)


def test_gradients_reach_the_tap_and_bridge_with_padding():
    torch.manual_seed(0)
    model = build_model("stft-mask-gru", {"hidden": 32})
    bridge = AttentionBridge(32, 16, heads=2)
    wave = torch.randn(2, 8000)
    _, tap = model(wave)
    frame_mask = torch.ones(2, tap.shape[1], dtype=torch.bool)
    frame_mask[1, 30:] = False
    token_mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    predicted, weights = bridge(tap, frame_mask, token_mask)
    assert predicted.shape == (2, 3, 16)
    assert weights.shape[2] == -(-tap.shape[1] // 2) and weights[1, :, 15:].abs().max() == 0  # stride 2; padding unseen
    loss = cosine_distill_loss(predicted, torch.randn(2, 3, 16), token_mask)
    loss.backward()
    assert model.gru.weight_hh_l0.grad.abs().sum() > 0
    assert bridge.project[0].weight.grad.abs().sum() > 0


def test_strided_bridge_sees_averaged_frames():
    """stride 2 equals stride 1 on the tap averaged over frame pairs (same weights); an odd tail is kept."""
    torch.manual_seed(0)
    strided = AttentionBridge(8, 16, heads=2, stride=2)
    plain = AttentionBridge(8, 16, heads=2, stride=1)
    plain.load_state_dict(strided.state_dict())
    tap = torch.randn(2, 9, 8)
    frame_mask = torch.ones(2, 9, dtype=torch.bool)
    frame_mask[1, 4:] = False
    token_mask = torch.ones(2, 3, dtype=torch.bool)
    averaged = torch.nn.functional.pad(tap, (0, 0, 0, 1)).unflatten(1, (5, 2)).mean(2)
    a, weights = strided(tap, frame_mask, token_mask)
    b, _ = plain(averaged, torch.tensor([[True] * 5, [True, True, False, False, False]]), token_mask)
    assert weights.shape == (2, 3, 5) and torch.allclose(a, b, atol=1e-6)
