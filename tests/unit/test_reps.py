"""Unit tests of the rep detector's pure pieces (imu_tempo.reps)."""

from __future__ import annotations

import numpy as np
import pytest

from imu_tempo.reps import refine_rest_boundary
from tests.motion import G, _minjerk_acc


@pytest.mark.parametrize("duration_s", [0.6, 2.4])
@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_a_rest_end_is_the_braking_ramp_run_to_zero(duration_s, fs):
    """The end of a descent (0.5 m, minimum jerk) followed by a rest, with the rest found up to
    a quarter second early (the quiet window of a slow descent's gentle braking): the boundary
    is where the braking ends, not where the rest was found."""
    lead_s, tail_s = 1.0, 1.5
    n = int((lead_s + duration_s + tail_s) * fs)
    t = np.arange(n) / fs
    phase = (t >= lead_s) & (t < lead_s + duration_s)
    a = np.zeros(n)
    a[phase] = _minjerk_acc(duration_s, -0.5, (t[phase] - lead_s) / duration_s)
    x = G + a
    end_s = lead_s + duration_s
    w = max(2, round(0.1 * fs))
    for early_s in (0.0, 0.1, 0.25):
        coarse = (end_s - early_s) * fs
        r = refine_rest_boundary(x, 0, g=G, sign=+1, coarse=coarse, span=int(0.6 * duration_s * fs) + w,
                                 onset=False, tail=w)
        assert abs(r / fs - end_s) < max(0.03, 0.6 / fs), (early_s, r / fs, end_s)


def test_a_rest_end_does_not_follow_the_next_movement():
    """Found on time, a fast rep's end stays put even when the next rep's drive (the same sign of
    acceleration) starts right after a short pause."""
    fs, g = 100.0, G
    n = 400
    t = np.arange(n) / fs
    a = np.zeros(n)
    first = (t >= 0.5) & (t < 1.1)
    a[first] = _minjerk_acc(0.6, -0.5, (t[first] - 0.5) / 0.6)
    nxt = (t >= 1.3) & (t < 1.9)
    a[nxt] = _minjerk_acc(0.6, 0.5, (t[nxt] - 1.3) / 0.6)
    r = refine_rest_boundary(g + a, 0, g=g, sign=+1, coarse=1.12 * fs, span=46, onset=False, tail=10)
    assert abs(r / fs - 1.1) < 0.02
