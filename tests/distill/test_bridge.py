import torch

from cmkt.distill.bridge import AttentionBridge
from cmkt.distill.losses import cosine_distill_loss
from cmkt.distill.shift import temporal_shift
from cmkt.registry import build_model


def test_shift_moves_frames_and_masks_together():
    """Each item's frames move by its own shift s: frame t holds frame t - s, the mask marks exactly the
    frames that came from real ones, and the shifts drawn span the range (a no-op shift would fail)."""
    batch, frames = 32, 10
    tap = torch.arange(float(frames)).repeat(batch, 1)[..., None]
    mask = torch.ones(batch, frames, dtype=torch.bool)
    shifted, shifted_mask = temporal_shift(tap, mask, max_shift=3, prob=1.0, generator=torch.Generator().manual_seed(0))
    shifts = set()
    for item in range(batch):
        kept = shifted_mask[item].nonzero().flatten()
        s = int(kept[0]) if kept[0] > 0 else -(frames - 1 - int(kept[-1]))  # zeros enter on the side the frames left
        shifts.add(s)
        assert len(kept) == frames - abs(s) and torch.equal(shifted[item, kept, 0], (kept - s).float())
        assert not shifted[item, ~shifted_mask[item]].any()
    assert shifts == set(range(-3, 4))  # 32 draws reach every shift in [-3, 3], zero included
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
