"""Gyroscope axis conventions: does the gyroscope turn the way the accelerometer sees the sensor turn?

Sensors and exporters do not all agree on the gyroscope's signs and axis order: one reports
the rotation of the frame rather than of the sensor (every sign flipped), another is
left-handed (one axis flipped), a converter swaps two columns.  The accelerometer's axes are
the reference (gravity pins them); a gyroscope in another convention turns the tracked gravity
the wrong way, and the vertical signal, and every rep, goes with it (dev: the simulated grid with
every gyro sign flipped, exact count 1.0 -> 0).

:func:`disagreement_deg` measures it.  Gravity in the sensor frame is carried through the
recording by the gyroscope (read through each candidate convention), and pulled toward the
accelerometer's direction at *calm* moments (the magnitude within 5 % of 1 g, turning slower
than 0.5 rad/s), where that direction is gravity; the mean angle between the two at those
moments is the score.  The right convention scores a few degrees (what linear acceleration
and noise leave); a wrong one, several times more once the sensor has turned between calm
moments.  :func:`check_gyro_axes` stops a reading whose own convention scores clearly worse
than another (:func:`gyro_axes_verdict`; a live stream is checked on its first minutes and told
with a status event, ``live._GyroAxesCheck``), and says which to pass: ``--gyro-axes=-x,-y,-z``,
or ``none`` to leave the gyroscope out.  A ``--gyro-axes`` spec maps the file's columns to the sensor's axes: ``y,x,-z``
reads gx from the file's gy column, gy from gx, and gz from -gz.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, UnitError

__all__ = ["parse_gyro_axes", "format_gyro_axes", "disagreement_deg", "check_gyro_axes", "gyro_axes_verdict",
           "GyroAxesVerdict", "gyro_in_accel_axes", "dead_gyro_note", "CONVENTIONS"]

STANDARD_GRAVITY = 9.80665
_AXES = "xyz"

#: Every signed permutation of the axes (48): row i picks the file's column for the sensor's axis i.
CONVENTIONS: np.ndarray = np.array(
    [
        np.array([[s if c == p else 0.0 for c in range(3)] for p, s in zip(perm, signs)])
        for perm in itertools.permutations(range(3))
        for signs in itertools.product((1.0, -1.0), repeat=3)
    ]
)
IDENTITY = 0  # CONVENTIONS[0] is x,y,z

CALM_G = 0.05  # calm: |a| within this fraction of 1 g ...
CALM_RADPS = 0.5  # ... and turning slower than this
TRACK_TAU_S = 2.0  # gravity is pulled toward the accelerometer's direction with this time constant
JUDGE_S = 1.0  # the first second of each calm spell is scored
STEP_HZ = 25.0  # the check runs on block means at about this rate ...
MAX_STEPS = 7_500  # ... over at most this many steps (5 min: the stretch that turns most)
_CHUNK = 1024  # steps whose rotations are built at once
# Verdict: the file's convention is wrong when it scores at least WORSE x and WORSE_DEG more than
# the best one; a best one is named when the second best scores at least UNIQUE x the best.  On
# the simulated presets and placements (4 seeds, 25 and 100 Hz, noise 0.05 and 0.3 m/s^2, 128
# sessions) the right convention scores 0.7-4 deg and is the best (or ties); every one of them
# passes.  With every sign flipped, 111 of 128 stop (the rest: a chest strap on pull-ups, which
# hardly turns, and one jump squat); one axis flipped, 126; x and y swapped, 112 (dev script, not shipped).
WORSE, WORSE_DEG, UNIQUE = 1.3, 1.2, 1.25
# ... and only when the recording turned enough to tell conventions apart: the median convention
# scores EVIDENCE_DEG more than the best (sessions: 15-27 deg; a sensor lying still with a noisy
# gyro: 0, every convention alike).
EVIDENCE_DEG = 5.0


def parse_gyro_axes(spec: str) -> np.ndarray | None:
    """The 3x3 signed permutation of ``spec`` ("x,y,z", "-x,-y,-z", "y,x,-z"; rows: sensor axes),
    or None for ``"none"`` (leave the gyroscope out)."""
    text = spec.strip().lower().replace(" ", "")
    if text == "none":
        return None
    parts = text.split(",")
    m = np.zeros((3, 3))
    ok = len(parts) == 3
    for i, part in enumerate(parts if ok else []):
        name = part[1:] if part[:1] in "+-" else part
        if name not in ("x", "y", "z") or m[:, _AXES.index(name)].any():
            ok = False
            break
        m[i, _AXES.index(name)] = -1.0 if part.startswith("-") else 1.0
    if ok:
        return m
    raise ConfigError(
        f"gyro axes {spec!r} is not a mapping: give each of x, y, z once, each with an optional '-' "
        "(e.g. -x,-y,-z or y,x,-z), or none"
    )


def format_gyro_axes(m: np.ndarray) -> str:
    """``parse_gyro_axes``'s inverse: "x,y,z" for the identity."""
    out = []
    for row in m:
        c = int(np.flatnonzero(row)[0])
        out.append(("-" if row[c] < 0 else "") + _AXES[c])
    return ",".join(out)


def disagreement_deg(t_s: np.ndarray, accel: np.ndarray, gyro: np.ndarray, conventions: np.ndarray) -> np.ndarray | None:
    """Mean angle (degrees) between gyro-carried gravity and the accelerometer's at calm moments,
    per convention (``conventions``: (k, 3, 3)); None if the recording has no calm moment to judge by."""
    n = t_s.shape[0]
    fs = (n - 1) / float(t_s[-1] - t_s[0]) if n > 1 and t_s[-1] > t_s[0] else 0.0
    d = max(1, int(fs // STEP_HZ))
    m = n // d
    if m < 3:
        return None
    a = accel[: m * d].reshape(m, d, 3).mean(axis=1)
    w = gyro[: m * d].reshape(m, d, 3).mean(axis=1)
    ts = t_s[: m * d : d]
    if m > MAX_STEPS:  # a long recording: the stretch where the sensor turned most
        c = np.concatenate(([0.0], np.cumsum(np.linalg.norm(w, axis=1))))
        k = int(np.argmax(c[MAX_STEPS:] - c[: m - MAX_STEPS + 1]))
        a, w, ts, m = a[k : k + MAX_STEPS], w[k : k + MAX_STEPS], ts[k : k + MAX_STEPS], MAX_STEPS
    dt = np.diff(ts)
    mag = np.linalg.norm(a, axis=1)
    u = a / np.maximum(mag, 1e-9)[:, None]
    calm = (np.abs(mag - STANDARD_GRAVITY) < CALM_G * STANDARD_GRAVITY) & (np.linalg.norm(w, axis=1) < CALM_RADPS)
    # judged: the first JUDGE_S of each calm spell (later on, the pull has put gravity back whatever the
    # convention: a long rest would only dilute the score)
    start = np.flatnonzero(calm & ~np.concatenate(([False], calm[:-1])))
    run_start = np.maximum.accumulate(np.where(np.isin(np.arange(m), start), np.arange(m), 0))
    judged = calm & (ts - ts[run_start] < JUDGE_S)
    judged[0] = False
    if judged.sum() < 2:
        return None
    kk = conventions.shape[0]
    g = np.repeat(u[:1], kk, axis=0)
    total = np.zeros(kk)
    for lo in range(1, m, _CHUNK):
        hi = min(m, lo + _CHUNK)
        rot = _step_rotations(np.einsum("kij,nj->nki", conventions, w[lo - 1 : hi - 1]) * dt[lo - 1 : hi - 1, None, None])
        for i in range(lo, hi):
            g = np.einsum("kij,kj->ki", rot[i - lo], g)
            if calm[i]:
                if judged[i]:
                    total += np.arccos(np.clip(g @ u[i], -1.0, 1.0))
                g = g + (dt[i - 1] / TRACK_TAU_S) * (u[i] - g)
                g /= np.linalg.norm(g, axis=1)[:, None]
    return np.degrees(total / float(judged.sum()))


def _step_rotations(rv: np.ndarray) -> np.ndarray:
    """(n, k, 3, 3) matrices turning a vector by ``-rv`` (angle |rv|, Rodrigues): gravity seen from a
    sensor that turned by ``rv`` (the rate times the step, in the sensor frame)."""
    th = np.sqrt(np.einsum("nki,nki->nk", rv, rv))
    ax = rv / np.maximum(th, 1e-12)[..., None]
    c, s = np.cos(th)[..., None, None], np.sin(th)[..., None, None]
    x, y, z = ax[..., 0], ax[..., 1], ax[..., 2]
    zero = np.zeros_like(x)
    cross = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)], -2)
    return c * np.eye(3) - s * cross + (1.0 - c) * ax[..., :, None] * ax[..., None, :]


@dataclass(frozen=True, slots=True)
class GyroAxesVerdict:
    """What :func:`gyro_axes_verdict` found.

    ``message`` is None when the gyroscope's own convention fits (or none fits clearly better);
    else it says what is wrong and what to pass, and ``spec`` is the ``--gyro-axes`` map that fits
    (None when no other fits clearly better).  ``decisive``: the sensor turned enough to tell the
    conventions apart (a mismatch is only reported when it did).
    """

    message: str | None
    spec: str | None
    decisive: bool


def gyro_axes_verdict(t_s: np.ndarray, accel: np.ndarray, gyro: np.ndarray, *, source: str) -> GyroAxesVerdict | None:
    """Does the gyroscope's convention (``source``: where it came from, for the message) disagree with
    the accelerometer clearly more than another convention does?  None when the data has no calm
    moment to judge by."""
    scores = disagreement_deg(t_s, accel, gyro, CONVENTIONS)
    if scores is None:
        return None
    order = np.argsort(scores)
    best, second = int(order[0]), int(order[1])
    s_own, s_best = float(scores[IDENTITY]), float(scores[best])
    decisive = float(np.median(scores)) - s_best >= EVIDENCE_DEG  # else the sensor hardly turned
    if best == IDENTITY or s_own < WORSE * s_best or s_own - s_best < WORSE_DEG or not decisive:
        return GyroAxesVerdict(None, None, decisive)
    head = (
        f"the gyroscope disagrees with the accelerometer: turned by its rates ({source}), gravity lands "
        f"{s_own:.0f} deg on average from where the accelerometer sees it at calm moments"
    )
    if scores[second] >= UNIQUE * s_best:
        spec = format_gyro_axes(CONVENTIONS[best])
        return GyroAxesVerdict(
            f"{head}; read as {spec}, {s_best:.0f} deg.  Its axes or signs follow another convention than the "
            f"accelerometer's: pass --gyro-axes={spec} (or --gyro-axes=none to analyse without the gyroscope).",
            spec, decisive,
        )
    return GyroAxesVerdict(
        f"{head}, and no other order or signs of its axes fit clearly better.  Check that gx,gy,gz are the "
        "gyroscope's columns, or pass --gyro-axes=none to analyse without the gyroscope.",
        None, decisive,
    )


def check_gyro_axes(t_s: np.ndarray, accel: np.ndarray, gyro: np.ndarray, *, path: str, source: str) -> None:
    """Raise :class:`UnitError` when :func:`gyro_axes_verdict` finds the gyroscope's convention wrong."""
    verdict = gyro_axes_verdict(t_s, accel, gyro, source=source)
    if verdict is not None and verdict.message is not None:
        raise UnitError(verdict.message, path=path)


#: A gyroscope column whose range stays below this (rad/s) over the whole recording reads nothing: real
#: ones show noise and quantisation steps of 0.001 rad/s or more even at rest.
DEAD_RANGE_RADPS = 1e-4
#: ... while the accelerometer's direction moved at least this far (degrees, 1st to 99th percentile).
DEAD_TURN_DEG = 10.0


def dead_gyro_note(accel: np.ndarray, gyro: np.ndarray, *, path: str) -> str | None:
    """A warning when the gyroscope reads a constant while the accelerometer shows the sensor turning
    (a gyroscope switched off, or columns exported as zeros), else None: such a gyroscope carries
    nothing, and carrying gravity through the turns with it would hold it still."""
    if gyro.shape[0] < 10 or float(np.ptp(gyro, axis=0).max()) >= DEAD_RANGE_RADPS:
        return None
    u = accel / np.maximum(np.linalg.norm(accel, axis=1), 1e-9)[:, None]
    lo, hi = np.percentile(u, [1, 99], axis=0)
    turn = float(np.degrees(2.0 * np.arcsin(min(1.0, 0.5 * float(np.linalg.norm(hi - lo))))))
    if turn < DEAD_TURN_DEG:
        return None
    return (
        f"{path}: the gyroscope reads {float(gyro[0, 0]):g}, {float(gyro[0, 1]):g}, {float(gyro[0, 2]):g} rad/s "
        f"throughout while the accelerometer shows the sensor turning (about {turn:.0f} deg): it was off or not "
        "exported, so it is left out and the analysis uses the accelerometer alone"
    )


def gyro_in_accel_axes(t_s: np.ndarray, accel: np.ndarray, gyro: np.ndarray, spec: str | None, *, where: str,
                       path: str) -> tuple[np.ndarray | None, str | None]:
    """The gyroscope in the accelerometer's axes, and a warning to give (or None).

    Mapped by ``spec`` (from ``where``: "--gyro-axes=y,x,z", a file's line; None for "none").  With
    no ``spec``: left out when it reads a constant on a turning sensor (:func:`dead_gyro_note`),
    else as it is once :func:`check_gyro_axes` passes.
    """
    if spec is None:
        dead = dead_gyro_note(accel, gyro, path=path)
        if dead is not None:
            return None, dead
        check_gyro_axes(t_s, accel, gyro, path=path, source="gx,gy,gz as they are")
        return gyro, None
    try:
        m = parse_gyro_axes(spec)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {where}: {exc}") from None
    return (None if m is None else np.ascontiguousarray(gyro @ m.T)), None
