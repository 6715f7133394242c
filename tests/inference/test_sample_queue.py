import numpy as np

from cmkt.inference.sample_queue import SampleQueue


def test_a_queue_returns_the_oldest_samples_and_zeros_past_the_end():
    queue = SampleQueue(2)
    queue.put(np.arange(6, dtype=np.float32).reshape(2, 3))
    queue.put(np.full((2, 2), 9, np.float32))
    np.testing.assert_array_equal(queue.take(2), [[0, 1], [3, 4]])
    assert len(queue) == 3
    np.testing.assert_array_equal(queue.take(5), [[2, 9, 9, 0, 0], [5, 9, 9, 0, 0]])
    assert len(queue) == 0
