import numpy as np
import pytest
import torch

from cmkt.inference.enhancer import load_enhancer
from cmkt.inference.streaming import StreamingEnhancer
from cmkt.registry import build_model
from tests.conftest import deep_filter_model, push_in_blocks


def test_streaming_equals_offline_for_any_block_sizes(trained_model):
    enhancer = load_enhancer(trained_model)
    rng = np.random.default_rng(1)
    noisy = (0.1 * rng.standard_normal((2, 16000 * 2 + 61))).astype(np.float32)
    with torch.no_grad():
        offline = enhancer.model(torch.from_numpy(noisy))[0].numpy()
    streamed = push_in_blocks(enhancer.stream(channels=2), noisy, rng.integers(1, 900, 200).tolist())
    assert streamed.shape == offline.shape
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


@pytest.mark.parametrize("post_filter", [0.0, 0.05])
def test_streaming_equals_offline_with_a_deep_filter(post_filter):
    model = deep_filter_model(order=3)
    model.post_filter_beta = post_filter  # per frame, so the post-filter (cmkt.models.post_filter) streams too
    rng = np.random.default_rng(4)
    noisy = (0.1 * rng.standard_normal((1, 16000 + 77))).astype(np.float32)
    with torch.no_grad():
        offline = model(torch.from_numpy(noisy))[0].numpy()
    streamed = push_in_blocks(StreamingEnhancer(model), noisy, rng.integers(1, 700, 100).tolist())
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_output_lags_by_the_stated_delay_and_latency_is_one_window():
    torch.manual_seed(0)
    model = build_model("stft-mask-gru", {"hidden": 32}).eval()
    stream = StreamingEnhancer(model)
    assert stream.latency_samples == 512 and stream.latency_ms(16000) == 32.0
    out = [stream.push(np.zeros(128, np.float32)).shape[1] for _ in range(5)]
    assert out == [0, 0, 0, 128, 128]  # n_fft - hop = 384 samples of delay, then one hop per hop


def test_state_carries_between_calls_and_reset_forgets_it():
    torch.manual_seed(0)
    model = build_model("stft-mask-gru", {"hidden": 32}).eval()
    stream = StreamingEnhancer(model)
    burst = np.random.default_rng(0).standard_normal(4096).astype(np.float32)
    first = np.concatenate([stream.push(burst), stream.flush()], axis=1)
    again = np.concatenate([stream.push(burst), stream.flush()], axis=1)  # flush resets
    np.testing.assert_array_equal(first, again)
    stream.push(burst)
    continued = np.concatenate([stream.push(burst), stream.flush()], axis=1)
    assert not np.allclose(continued[:, -4096 + 1024 :], first[:, 1024:])
