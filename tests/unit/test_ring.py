"""RingBuffer: absolute indexing, wrap-around, bounded memory."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu_tempo.ring import RingBuffer


class TestRingBuffer:
    def test_empty(self):
        r = RingBuffer(5, 2)
        assert len(r) == 0 and r.total == 0
        assert r.latest(3).shape == (0, 2)

    def test_write_and_get_by_absolute_index(self):
        r = RingBuffer(5, 1)
        r.write(np.arange(3.0)[:, None])
        r.write(np.arange(3.0, 8.0)[:, None])
        assert r.total == 8 and len(r) == 5 and r.first == 3
        np.testing.assert_array_equal(r.get(3, 8, 0), [3, 4, 5, 6, 7])
        np.testing.assert_array_equal(r.latest(2, 0), [6, 7])

    def test_out_of_range_raises_with_the_held_range(self):
        r = RingBuffer(4, 1)
        r.write(np.arange(10.0)[:, None])
        with pytest.raises(IndexError, match=r"holds \[6, 10\)"):
            r.get(5, 7)

    def test_put_overwrites_one_column_across_the_wrap(self):
        r = RingBuffer(4, 2)
        r.write(np.zeros((6, 2)))
        r.put(3, 1, np.array([1.0, 2.0, 3.0]))
        np.testing.assert_array_equal(r.get(2, 6, 1), [0, 1, 2, 3])
        np.testing.assert_array_equal(r.get(2, 6, 0), [0, 0, 0, 0])

    def test_capacity_in_seconds(self):
        r = RingBuffer.for_duration(seconds=2.5, fs_hz=100.0, channels=3)
        assert r.capacity == 250

    def test_invalid_capacity(self):
        with pytest.raises(ValueError, match="capacity"):
            RingBuffer(0, 1)

    @settings(max_examples=60, deadline=None)
    @given(cap=st.integers(1, 20), sizes=st.lists(st.integers(0, 30), min_size=1, max_size=12))
    def test_matches_the_tail_of_everything_written(self, cap, sizes):
        r = RingBuffer(cap, 1)
        written = []
        k = 0
        for n in sizes:
            chunk = np.arange(k, k + n, dtype=float)
            k += n
            written.extend(chunk)
            r.write(chunk[:, None])
        tail = np.array(written[-cap:]) if written else np.zeros(0)
        np.testing.assert_array_equal(r.latest(cap, 0), tail)
        assert r.total == len(written)
