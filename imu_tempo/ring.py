"""A bounded numpy ring buffer addressed by absolute sample index.

The engine writes every sample once and reads back windows by the sample's
absolute index (the count of samples written before it), so code that refines
a rep boundary never needs to know where the buffer wraps.  Writes are one or
two slice copies; memory is fixed at construction.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """Fixed-capacity 2-D buffer of ``(capacity, channels)`` float64 samples.

    Parameters
    ----------
    capacity : int
        Samples kept.  Use :meth:`for_duration` to size it in seconds.
    channels : int
        Columns per sample.

    Notes
    -----
    ``total`` counts every sample ever written; the buffer holds absolute
    indices ``[total - len(self), total)``.  ``latest(n)`` peeks without
    consuming; there is no draining: readers keep their own position, as the
    engine does.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 sample, got {capacity}")
        self._buf = np.zeros((capacity, channels), dtype=np.float64)
        self.capacity = capacity
        self.channels = channels
        self.total = 0
        self.first = 0  # absolute index of the oldest sample still held (kept by write: read very often)

    @classmethod
    def for_duration(cls, *, seconds: float, fs_hz: float, channels: int) -> RingBuffer:
        return cls(max(1, int(np.ceil(seconds * fs_hz))), channels)

    def __len__(self) -> int:
        return self.total - self.first

    def write(self, rows: np.ndarray) -> None:
        """Append ``rows`` (shape ``(n, channels)``); the oldest samples fall out."""
        n = rows.shape[0]
        if n == 0:
            return
        if n >= self.capacity:
            rows = rows[n - self.capacity :]
            start = (self.total + n - self.capacity) % self.capacity
            k = self.capacity - start
            self._buf[start:] = rows[:k]
            self._buf[:start] = rows[k:]
        else:
            start = self.total % self.capacity
            end = start + n
            if end <= self.capacity:
                self._buf[start:end] = rows
            else:
                k = self.capacity - start
                self._buf[start:] = rows[:k]
                self._buf[: n - k] = rows[k:]
        self.total += n
        self.first = max(0, self.total - self.capacity)

    def put(self, start_abs: int, column: int, values: np.ndarray) -> None:
        """Overwrite one column for absolute indices ``[start_abs, start_abs + len(values))``."""
        n = values.shape[0]
        if n == 0:
            return
        if start_abs < self.first or start_abs + n > self.total:
            self._check(start_abs, start_abs + n)
        pos = start_abs % self.capacity
        end = pos + n
        if end <= self.capacity:
            self._buf[pos:end, column] = values
        else:
            k = self.capacity - pos
            self._buf[pos:, column] = values[:k]
            self._buf[: n - k, column] = values[k:]

    def get(self, start_abs: int, stop_abs: int, column: int | None = None) -> np.ndarray:
        """A copy of absolute indices ``[start_abs, stop_abs)`` (all columns, or one)."""
        if start_abs < self.first or stop_abs > self.total or start_abs > stop_abs:
            self._check(start_abs, stop_abs)
        cap = self.capacity
        pos = start_abs % cap
        end = pos + stop_abs - start_abs
        cols = slice(None) if column is None else column
        if end <= cap:
            return self._buf[pos:end, cols].copy()
        return np.concatenate((self._buf[pos:, cols], self._buf[: end - cap, cols]))

    def latest(self, n: int, column: int | None = None) -> np.ndarray:
        """The newest ``n`` samples (fewer if fewer are held), oldest first."""
        n = min(n, len(self))
        return self.get(self.total - n, self.total, column)

    def _check(self, start_abs: int, stop_abs: int) -> None:
        if start_abs > stop_abs:
            raise ValueError(f"empty or reversed range [{start_abs}, {stop_abs})")
        if start_abs < self.first or stop_abs > self.total:
            raise IndexError(
                f"samples [{start_abs}, {stop_abs}) are not held; the buffer holds "
                f"[{self.first}, {self.total})"
            )
