import torch

from cmkt.registry import build_model


def test_size_shapes_and_tap():
    model = build_model("stft-mask-gru")
    assert 0.7e6 < sum(p.numel() for p in model.parameters()) < 1.5e6
    enhanced, tap = model(torch.randn(2, 16000))
    assert enhanced.shape == (2, 16000)
    assert tap.shape == (2, model.stft.frame_count(16000), model.tap_dim)


def test_model_is_causal_in_frames():
    torch.manual_seed(0)
    model = build_model("stft-mask-gru", {"hidden": 64}).eval()
    x = torch.randn(1, 16000)
    changed = x.clone()
    changed[:, 8000:] = torch.randn(1, 8000)
    with torch.no_grad():
        _, tap_a = model(x)
        _, tap_b = model(changed)
    last_untouched = (8000 - 256) // 128  # frames whose window ends before sample 8000
    assert torch.allclose(tap_a[:, :last_untouched], tap_b[:, :last_untouched])
    assert not torch.allclose(tap_a[:, last_untouched + 2 :], tap_b[:, last_untouched + 2 :])


def test_encoder_tap_changes_what_the_bridge_reads_but_not_the_enhancement():
    torch.manual_seed(0)
    gru_tapped = build_model("stft-mask-gru", {"hidden": 64})
    encoder_tapped = build_model("stft-mask-gru", {"hidden": 64, "tap": "encoder"})
    encoder_tapped.load_state_dict(gru_tapped.state_dict())
    x = torch.randn(2, 8000)
    enhanced_a, tap_a = gru_tapped(x)
    enhanced_b, tap_b = encoder_tapped(x)
    assert torch.equal(enhanced_a, enhanced_b) and tap_a.shape == tap_b.shape
    assert not torch.allclose(tap_a, tap_b)
    tap_b.pow(2).mean().backward()  # a loss on the encoder tap trains the encoder, never the GRU above it
    assert encoder_tapped.encoder[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder_tapped.gru.parameters())


def test_unknown_tap_is_a_clear_error():
    import pytest

    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="tap 'decoder'"):
        build_model("stft-mask-gru", {"tap": "decoder"})
