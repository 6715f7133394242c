import numpy as np
import pytest

from cmkt.audio import resample
from cmkt.inference.resampling import BlockResampler
from tests.conftest import push_in_blocks


@pytest.mark.parametrize(
    "from_rate,to_rate", [(44100, 16000), (16000, 44100), (48000, 16000), (8000, 16000), (22050, 16000), (16000, 16000)]
)
def test_block_by_block_equals_whole_signal(from_rate, to_rate):
    rng = np.random.default_rng(from_rate + to_rate)
    signal = rng.standard_normal((2, from_rate * 2 + 17)).astype(np.float32)
    joined = push_in_blocks(BlockResampler(from_rate, to_rate, 2), signal, rng.integers(1, 6000, 100).tolist())
    whole = resample(signal, from_rate, to_rate)
    assert joined.shape == whole.shape
    np.testing.assert_allclose(joined, whole, atol=1e-6)


def test_memory_stays_bounded_by_the_block():
    resampler = BlockResampler(44100, 16000, 1)
    for _ in range(200):
        resampler.push(np.zeros((1, 4410), np.float32))
    assert resampler.buffer.shape[1] < 4410 + 2 * resampler.margin
