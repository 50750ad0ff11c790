"""Unit tests of the rep detector's pure pieces (imu_tempo.reps)."""

from __future__ import annotations

import numpy as np
import pytest

from imu_tempo.reps import Lobe, moved_until, refine_rest_boundary
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


def _lobes(*moves: tuple[float, str]) -> list[Lobe]:
    """Consecutive lobes from (displacement m, end kind); the first starts at a rest."""
    out, t, kind = [], 0.0, "rest"
    for disp, end_kind in moves:
        out.append(Lobe(sign=1 if disp > 0 else -1, start=t, start_kind=kind, end=t + 50, end_kind=end_kind, disp=disp))
        t, kind = t + 50, end_kind
    return out


def test_steps_after_the_return_are_left_out_of_the_rep():
    """Pull-up: up, back down to the hang (a turnaround), then three small steps before the rest."""
    lobes = _lobes((0.5, "down"), (-0.49, "up"), (0.04, "down"), (-0.05, "up"), (0.03, "rest"))
    assert moved_until(lobes, 0, min_rom_m=0.15, level_tol=0.15) == 1


def test_a_thrown_bar_caught_and_pressed_back_is_all_one_rep():
    """Bench throw: down to the chest, up to an apex near lockout, caught 6-7 cm low and pressed back.
    The apex (the concentric lobe's own end) is not where the rep came back (it ended there), and a
    press that brings it back to its level from that far off is not a trailing wiggle (it ended at the catch),
    nor are a catch and a press that both move a few cm (it ended at the apex)."""
    level = _lobes((-0.39, "up"), (0.405, "down"), (-0.08, "up"), (0.068, "rest"))  # apex 1.5 cm over lockout
    assert moved_until(level, 1, min_rom_m=0.15, level_tol=0.15) == 3
    high = _lobes((-0.40, "up"), (0.46, "down"), (-0.12, "up"), (0.06, "rest"))  # apex 6 cm over
    assert moved_until(high, 1, min_rom_m=0.15, level_tol=0.15) == 3
    gentle = _lobes((-0.43, "up"), (0.445, "down"), (-0.07, "up"), (0.051, "rest"))  # caught and pressed 5-7 cm
    assert moved_until(gentle, 1, min_rom_m=0.15, level_tol=0.15) == 3
    # a wiggle that takes it away from its level is still left out
    wiggle = _lobes((-0.40, "up"), (0.40, "down"), (-0.05, "rest"))
    assert moved_until(wiggle, 1, min_rom_m=0.15, level_tol=0.15) == 1
