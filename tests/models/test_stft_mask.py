import pytest
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
    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="tap 'decoder'"):
        build_model("stft-mask-gru", {"tap": "decoder"})


def test_deep_filter_starts_at_zero_so_a_grown_model_enhances_as_before():
    torch.manual_seed(0)
    plain = build_model("stft-mask-gru", {"hidden": 32}).eval()
    grown = build_model("stft-mask-gru", {"hidden": 32, "deep_filter_order": 3}).eval()
    missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["deep_filter.bias", "deep_filter.weight"] and not unexpected
    x = torch.randn(2, 8000)
    with torch.no_grad():
        assert torch.equal(plain(x)[0], grown(x)[0])


def test_deep_filter_changes_only_the_low_bins():
    from tests.conftest import deep_filter_model

    model = deep_filter_model()
    masked_only = build_model("stft-mask-gru", {"hidden": 32}).eval()
    masked_only.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("deep_filter")})
    x = torch.randn(1, 16000)
    with torch.no_grad():
        change = model(x)[0] - masked_only(x)[0]
    power = torch.fft.rfft(change[0]).abs().pow(2)
    cutoff = int(len(power) * 4500 / 8000)  # filtered bins end at 4 kHz; allow for window leakage
    assert power.sum() > 0 and power[cutoff:].sum() < 0.01 * power.sum()


def test_deep_filter_output_is_causal():
    from tests.conftest import deep_filter_model

    model = deep_filter_model()
    x = torch.randn(1, 16000)
    changed = x.clone()
    changed[:, 8000:] = torch.randn(1, 8000)
    with torch.no_grad():
        a, b = model(x)[0], model(changed)[0]
    assert torch.equal(a[:, : 8000 - 512], b[:, : 8000 - 512]) and not torch.allclose(a[:, 8000:], b[:, 8000:])


def test_bad_deep_filter_settings_are_a_clear_error():
    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="deep filter"):
        build_model("stft-mask-gru", {"deep_filter_order": 2, "deep_filter_bins": 300})


def test_the_linguistic_branch_is_the_tap_and_feeds_the_mask_path_from_a_zero_start():
    from cmkt.training.starting_weights import load_starting_weights

    torch.manual_seed(0)
    plain = build_model("stft-mask-gru", {"hidden": 32}).eval()
    branched = build_model("stft-mask-gru", {"hidden": 32, "tap": "branch", "branch_hidden": 24}).eval()
    load_starting_weights(branched, plain.state_dict())  # the branch's GRU may start random: its way out is zero
    x = torch.randn(2, 8000)
    with torch.no_grad():
        enhanced_plain, _ = plain(x)
        enhanced, tap = branched(x)
    assert torch.equal(enhanced, enhanced_plain)  # grown onto a trained model, it enhances as that one did
    assert tap.shape == (2, branched.stft.frame_count(8000), 24) and branched.tap_dim == 24
    branched.train()
    enhanced, tap = branched(x)
    (tap.pow(2).mean() + enhanced.pow(2).mean()).backward()
    assert branched.branch.weight_ih_l0.grad.abs().sum() > 0  # the distillation trains the branch
    assert branched.branch_feedback.weight.grad.abs().sum() > 0  # and the mask's loss its way back in


@pytest.mark.parametrize("refine_layers", [0, 1])
def test_a_branched_model_streams_exactly(refine_layers):
    import numpy as np

    from cmkt.inference.streaming import StreamingEnhancer
    from tests.conftest import push_in_blocks

    torch.manual_seed(1)
    settings = {"hidden": 32, "tap": "branch", "deep_filter_order": 2, "refine_layers": refine_layers}
    model = build_model("stft-mask-gru", settings).eval()
    torch.nn.init.normal_(model.branch_feedback.weight, std=0.3)  # so that the branch acts
    if refine_layers:
        torch.nn.init.normal_(model.refiner_out.weight, std=0.3)  # and the refiner after it
    noisy = (0.1 * np.random.default_rng(2).standard_normal((1, 16000 + 37))).astype(np.float32)
    with torch.no_grad():
        offline = model(torch.from_numpy(noisy))[0].numpy()
    streamed = push_in_blocks(StreamingEnhancer(model), noisy, [300, 1000, 77])
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_the_refiner_grows_onto_a_trained_model_from_a_zero_start_and_trains():
    from cmkt.training.starting_weights import load_starting_weights

    torch.manual_seed(0)
    plain = build_model("stft-mask-gru", {"hidden": 32, "deep_filter_order": 2}).eval()
    torch.nn.init.normal_(plain.deep_filter.weight, std=0.1)  # so that the filter acts, as in a trained model
    refined = build_model("stft-mask-gru", {"hidden": 32, "deep_filter_order": 2, "refine_layers": 2}).eval()
    load_starting_weights(refined, plain.state_dict())  # the refiner's GRU may start random: its way out is zero
    x = torch.randn(2, 8000)
    with torch.no_grad():
        assert torch.equal(refined(x)[0], plain(x)[0])
    refined.train()
    refined(x)[0].pow(2).mean().backward()
    assert refined.refiner_out.weight.grad.abs().sum() > 0  # the enhancement loss opens its way out
    assert sum(p.numel() for p in refined.refiner.parameters()) == 2 * 3 * (2 * 32 * 32 + 2 * 32)


def test_bad_refine_layers_are_a_clear_error():
    from cmkt.errors import CmktError

    with pytest.raises(CmktError, match="refine_layers -1"):
        build_model("stft-mask-gru", {"refine_layers": -1})
