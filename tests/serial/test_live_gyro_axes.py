"""A live gyroscope in another axis convention is said once, as a ``gyro_axes`` status event.

A recording is checked as it is read (``sources.axes``); a live stream cannot be, so ``live``
checks its first minutes of data (``live._GyroAxesCheck``).  Through a real pseudo-terminal and
a real recording on disk; the blocks pass on unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from serialkit import WearableFaults, run, simulated_session, stream, wearable_for

from imu_tempo.live import _GyroAxesCheck
from imu_tempo.sources.recording import ReplaySource, read_recording, write_recording
from imu_tempo.types import StatusEvent


async def over_the_pty(session: SimpleNamespace, **wearable: object) -> tuple[list[StatusEvent], list]:
    """Stream ``session`` from a simulated wearable on a pty through a checked SerialSource, to its end
    marker (a device that reboots restarts its clock: its last time stamp is not known ahead)."""
    w = wearable_for(session, speed=40.0, **wearable)
    r = await stream(w, wrap=lambda src, status: _GyroAxesCheck(src, status=status))
    assert r.error is None
    return r.statuses, r.blocks


def long_set(*, flip: bool) -> SimpleNamespace:
    """A 45 s kettlebell set (past the first check at 30 s), its gyroscope as is or with every sign flipped."""
    s = simulated_session(100.0, reps=28)
    assert s.t_s[-1] > 40.0
    return SimpleNamespace(t_s=s.t_s, accel=s.accel, gyro=-s.gyro if flip else s.gyro, fs_hz=s.fs_hz)


def test_a_flipped_gyroscope_is_said_once_with_the_map_that_fits() -> None:
    statuses, blocks = run(over_the_pty(long_set(flip=True)))
    said = [s for s in statuses if s.state == "gyro_axes"]
    assert len(said) == 1
    assert said[0].details == {"gyro_axes": "-x,-y,-z"} and "--gyro-axes=-x,-y,-z" in said[0].message
    assert blocks[-1].t_s[-1] > 40.0  # said during the stream, which went on


@pytest.mark.parametrize("flip", [True, False])
def test_a_device_that_reboots_is_judged_on_what_comes_after(flip: bool) -> None:
    """Unplugged 2 s into the idle before the set, it reboots (its clock restarts; the source bridges
    the gap): the stretch after the gap is judged on its own, from the rest of the idle on.  A flipped
    gyroscope is still said once (which map fits is not always clear from one swing set: it has few
    calm moments); the right one, across the gap, says nothing."""
    from imu_tempo.simulate import simulate_session

    s = simulate_session(exercise="kettlebell_swing", reps=25, fs_hz=100.0, seed=4, idle_s=6.0, walk=False, jitter_s=0.0)
    session = SimpleNamespace(t_s=s.t_s - s.t_s[0], accel=s.accel, gyro=-s.gyro if flip else s.gyro, fs_hz=s.fs_hz)
    faults = WearableFaults(unplug_at_s=2.0, unplug_for_s=1.0, restart_on_replug=True)
    statuses, _ = run(over_the_pty(session, faults=faults))
    assert "device_restarted" in [st.state for st in statuses]
    said = [st for st in statuses if st.state == "gyro_axes"]
    assert len(said) == (1 if flip else 0)
    assert not flip or "disagrees with the accelerometer" in said[0].message


def test_a_gyroscope_in_the_accelerometers_axes_says_nothing() -> None:
    statuses, blocks = run(over_the_pty(long_set(flip=False)))
    assert [s.state for s in statuses if s.state == "gyro_axes"] == []
    assert all(b.gyro is not None for b in blocks)


def test_a_stream_shorter_than_the_first_check_is_judged_when_it_ends(tmp_path) -> None:  # noqa: ANN001
    s = simulated_session(100.0, reps=4)  # 18 s
    path = tmp_path / "swapped.csv"
    write_recording(path, t_s=s.t_s, accel=s.accel, gyro=s.gyro[:, [1, 0, 2]])
    rec = read_recording(path, gyro_axes="x,y,z")  # read as it is (the reader would stop it)
    statuses: list[StatusEvent] = []

    async def replay() -> list:
        out = []
        async with _GyroAxesCheck(ReplaySource(rec, speed=None), status=statuses.append) as src:
            async for b in src:
                out.append(b)
        return out

    blocks = run(replay())
    said = [st for st in statuses if st.state == "gyro_axes"]
    assert len(said) == 1 and said[0].details == {"gyro_axes": "y,x,z"}
    np.testing.assert_array_equal(np.concatenate([b.gyro for b in blocks]), rec.gyro)  # passed on unchanged
