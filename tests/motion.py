"""A tiny analytic motion generator for engine tests (independent of imu_tempo.simulate).

Vertical minimum-jerk phases with exact accelerations, any sensor mount rotation, optional
gyro (zero: the mount is fixed), noise from a fixed seed.  Returns (t_s, accel, gyro, truth)
with truth = [(start_s, end_s, concentric_s), ...].
"""

from __future__ import annotations

import numpy as np

G = 9.80665


def _minjerk_acc(T: float, d: float, tau: np.ndarray) -> np.ndarray:
    return d / T**2 * (60 * tau - 180 * tau**2 + 120 * tau**3)


def vertical_session(
    *,
    fs_hz: float = 100.0,
    reps: int = 6,
    pattern: str = "up_first",  # up_first (pull-up), down_first (push press), continuous (swing)
    concentric_s: float | list[float] = 0.6,
    eccentric_s: float = 0.9,
    pause_s: float = 0.8,
    lead_s: float = 3.0,
    tail_s: float = 3.0,
    noise: float = 0.03,
    seed: int = 0,
    gyro: bool = False,
    rom_m: float | list[float] = 0.5,
    setup: list[tuple[float, float]] | tuple = (),
):
    """Phases are laid on a fine 10 kHz grid, then sampled at fs_hz.

    ``setup``: (duration_s, displacement_m) phases between the lead rest and the first rep
    (displacement 0 is a hold), e.g. lifting the bar onto the rack and a pause.
    """
    conc = list(concentric_s) if isinstance(concentric_s, (list, tuple)) else [concentric_s] * reps
    roms = list(rom_m) if isinstance(rom_m, (list, tuple)) else [rom_m] * reps
    phases: list[tuple[float, float]] = [(lead_s, 0.0)] + list(setup)  # (duration, displacement); 0 = hold
    truth = []
    t = lead_s + sum(d for d, _ in setup)
    for k in range(reps):
        c = conc[k]
        rom = roms[k]
        start = t
        if pattern == "up_first":
            seq = [(c, rom), (0.2, 0.0), (eccentric_s, -rom)]
            conc_s = c
        elif pattern == "down_first":
            seq = [(0.3, -0.12), (c, rom + 0.12), (0.3, 0.0), (eccentric_s, -rom)]
            conc_s = c
        elif pattern == "continuous":
            seq = [(c, rom), (eccentric_s, -rom)]
            conc_s = c
        else:
            raise ValueError(pattern)
        phases += seq
        t += sum(d for d, _ in seq)
        truth.append((start, t, conc_s))
        if pattern != "continuous" and k < reps - 1:
            phases.append((pause_s, 0.0))
            t += pause_s
    phases.append((tail_s, 0.0))
    total = sum(d for d, _ in phases)
    n = int(np.floor(total * fs_hz))
    ts = np.arange(n) / fs_hz
    acc = np.zeros(n)
    t0 = 0.0
    for dur, disp in phases:
        sel = (ts >= t0) & (ts < t0 + dur)
        if disp != 0.0:
            acc[sel] = _minjerk_acc(dur, disp, (ts[sel] - t0) / dur)
        t0 += dur
    rng = np.random.default_rng(seed)
    f = np.zeros((n, 3))
    f[:, 2] = acc + G
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    f = f @ q.T + rng.normal(0.0, noise, (n, 3))
    w = rng.normal(0.0, 0.002, (n, 3)) if gyro else None
    return ts, f, w, truth


def rotating_session(*, fs_hz: float = 50.0, reps: int = 6, period_s: float = 2.5, angle_deg: float = 120.0,
                     lead_s: float = 3.0, tail_s: float = 3.0, noise: float = 0.05, seed: int = 0):
    """A sensor swinging about a horizontal axis (a forearm in curls): little lift, much rotation.

    Returns (t_s, accel, truth) with truth = [(start_s, end_s), ...] of each swing out and back.
    """
    n = int((lead_s + reps * period_s + tail_s) * fs_hz)
    t = np.arange(n) / fs_hz
    ang = np.zeros(n)
    for k in range(reps):
        s0 = lead_s + k * period_s
        sel = (t >= s0) & (t < s0 + period_s)
        tau = (t[sel] - s0) / period_s
        ang[sel] = np.radians(angle_deg) * 0.5 * (1 - np.cos(2 * np.pi * tau))
    f = np.stack([G * np.sin(ang), np.zeros(n), G * np.cos(ang)], axis=1)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    f = f @ q.T + rng.normal(0.0, noise, (n, 3))
    truth = [(lead_s + k * period_s, lead_s + (k + 1) * period_s) for k in range(reps)]
    return t, f, truth
