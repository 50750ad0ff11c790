"""imu-tempo: real-time rep-tempo analysis for accelerometer/IMU streams.

The data flows left to right; each stage is a module (or folder) of its own::

    sources/  ->  engine.py  ->  outputs.py / analysis.py / session.py
    (serial, ble, recording, demo)  (ring, vertical, filters, reps, tempo)

Sources (async iterators of :class:`SampleBlock`)
    ``imu_tempo.sources.recording``: ``read_recording``, ``write_recording``,
    ``RecordingWriter``, ``ReplaySource``; ``imu_tempo.sources.serial``:
    ``SerialSource``; ``imu_tempo.sources.ble``: ``BleSource``, ``scan``;
    ``imu_tempo.sources.demo``: a simulated wearable on a pseudo-terminal.
Analysis
    :class:`Engine` (``feed(block) -> events``, ``finish()``, ``result()``),
    :class:`Settings`, :func:`analyze_recording`; the signal path lives in
    ``ring``, ``vertical``, ``filters``, ``reps``, ``orient`` and ``tempo``.
Running a session
    :func:`run_session` (async: source -> engine -> your callback).
Data
    :class:`SampleBlock`, :class:`Rep`, :class:`SetSummary` and the events in
    ``imu_tempo.types``; errors in ``imu_tempo.errors`` (root :class:`ImuTempoError`).
Simulation and calibration
    ``imu_tempo.simulate.simulate_session``; ``imu_tempo.calibrate``.

Units everywhere: seconds, m/s^2, rad/s, metres.  Time is the device's clock.
"""

from .analysis import analyze_recording
from .engine import Engine
from .errors import ImuTempoError, ImuTempoWarning
from .session import run_session
from .settings import Settings
from .types import Rep, SampleBlock, SetSummary

__all__ = [
    "Engine",
    "ImuTempoError",
    "ImuTempoWarning",
    "Rep",
    "SampleBlock",
    "SetSummary",
    "Settings",
    "analyze_recording",
    "run_session",
]
