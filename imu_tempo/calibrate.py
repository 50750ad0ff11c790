"""Calibration against video-timed reps: measure the sensor's timing error, fit a profile.

A coach marks each rep's start and end in a video; this module lines those marks
up with the reps the sensor found, reports the error per rep and overall, and
fits a *calibration profile* (TOML) that later analyses apply.

API map
-------
Reading marks
    :func:`parse_marks` -> tuple of :class:`VideoMark`
Lining up the two clocks
    :func:`align` -> :class:`Alignment`
Measuring the error
    :func:`compare` -> :class:`Report`; :func:`summarize` pools reports
Correcting
    :func:`fit_profile` -> :class:`Profile`; :func:`cross_validate` (leave one set out);
    :func:`calibrate` does all of it for several :class:`MarkedSession`
Profiles on disk
    :func:`save_profile`, :func:`load_profile` (-> Settings changes), :func:`apply_profile`
Output
    :func:`report_json` (the ``imu-tempo.calibration/1`` contract), :func:`format_text`,
    :func:`plot_calibration` (needs matplotlib)
Command line
    :func:`add_arguments`, :func:`run`

Conventions
-----------
*Clock model.*  ``video_s = offset_s + (1 + drift_ppm * 1e-6) * sensor_s``: the
offset is the video time minus the sensor time (at sensor time 0), the drift how
much faster the video clock runs, in parts per million.

*Errors* are sensor minus video, after mapping the sensor's times onto the video
clock, in milliseconds: a positive start error means the sensor put the start
later than the video, a positive duration error that the sensor's rep is longer.

*What can be known.*  Without a clap or tap to synchronise (``--offset-s``), a
delay common to the sensor's start and end times cannot be told apart from the
clock offset; automatic alignment puts the clock where the start and end errors
average to zero, so start and end biases are relative (equal and opposite) and
only the *duration* error, the one tempo depends on, is absolute.  The headline
numbers (``bias_ms``, ``mae_ms``, ``loa_ms``) are therefore duration errors.

Everything here except :func:`run`, the file helpers and the plot is pure and
deterministic; nothing runs threads.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as _dc_replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from .errors import CalibrationError, ConfigError
from .settings import Settings
from .tempo import first_failure
from .types import Rep

REPORT_SCHEMA = "imu-tempo.calibration/1"
"""Schema id of the JSON report (:func:`report_json`)."""
PROFILE_SCHEMA = "imu-tempo.profile/1"
"""Schema id written into (and required from) a saved profile."""

TOLERANCE_S = 0.4
"""A video rep and a sensor rep match when both their starts and their ends are this close (s)."""
MIN_MATCHED = 3
"""Fewest matched reps that make a comparison."""
MIN_DRIFT_SPAN_S = 60.0
"""Drift is estimated only when the matched reps span at least this long (s)..."""
DRIFT_MIN_T = 3.0
"""...and only kept when it is this many standard errors away from zero..."""
MAX_DRIFT_PPM = 5000.0
"""...and no larger than this (29.97 fps taken as 30 fps is 1000 ppm)."""
AMBIGUOUS_SCORE = 0.85
"""An alignment is flagged ambiguous when a clearly different one scores this fraction of it.
(On simulated sessions with 50 ms detector noise, the runner-up scores at most about 0.73.)"""
SEARCH_DRIFT_PPM = 2000.0
"""The offset search also tries clock drifts up to this (ppm) when the session is long enough to matter."""

OFFSET_BOUNDS_S: tuple[float, float] = (-0.5, 0.5)
"""Bounds of a profile's start and end corrections (s)."""
DETECTOR_BOUNDS: dict[str, tuple[float, float]] = {
    "min_rom_m": (0.03, 0.30),
    "min_rep_s": (0.15, 0.8),
}
"""Detector settings a profile may change, with their bounds."""
DETECTOR_STEPS: tuple[float, ...] = (0.5, 0.7, 0.85, 1.2, 1.5)
"""Values tried when tuning the detector, as multiples of the starting value (one setting at a time)."""
_DEBIASED_MAE_GAIN = 0.9  # a timing change must cut the (bias-free) duration MAE by 10 % ...
_DEBIASED_MAE_MIN_MS = 5.0  # ... and by at least 5 ms to count as a measurable improvement

_PROFILE_KEYS = ("start_offset_s", "end_offset_s", *DETECTOR_BOUNDS)


# ---------------------------------------------------------------------------------------------
# Video marks
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VideoMark:
    """One rep as marked on the video, in seconds on the video's clock.

    Attributes
    ----------
    rep : int
        The rep number written in the marks file (a label: numbering may restart per set).
    start_s, end_s : float
        Start and end of the rep (s, video clock).
    concentric_end_s : float or None
        End of the concentric phase, when marked (s, video clock).
    notes : str or None
        Free text from the ``notes`` column.
    set_index : int or None
        The ``set`` column, when the file has one; otherwise sets are told apart by rests.
    line : int
        1-based line of the marks file the rep came from.
    extra : tuple of (column, value)
        Any other columns of the file, kept as text.
    """

    rep: int
    start_s: float
    end_s: float
    concentric_end_s: float | None = None
    notes: str | None = None
    set_index: int | None = None
    line: int = 0
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def concentric_s(self) -> float | None:
        return None if self.concentric_end_s is None else self.concentric_end_s - self.start_s


_SECONDS_COLUMNS = ("start_s", "end_s")
_FRAME_COLUMNS = ("start_frame", "end_frame")


def parse_marks(path: str | Path, *, fps: float | None) -> tuple[VideoMark, ...]:
    """Read a video marks CSV.

    The file has a header row and one row per rep: ``rep,start_s,end_s`` (seconds on the
    video's clock; ``m:ss.ss`` and ``h:mm:ss.ss`` are accepted too) or
    ``rep,start_frame,end_frame`` (frame numbers, converted with ``fps``).  Optional columns:
    ``concentric_end_s`` (or ``concentric_end_frame``), ``set``, ``notes``; any others are kept
    in :attr:`VideoMark.extra`.  Blank lines and lines starting with ``#`` are skipped; the
    delimiter may be ``,``, ``;`` or a tab.  When both seconds and frames are present, seconds
    win.

    Parameters
    ----------
    path : str or Path
        The marks file.
    fps : float or None
        Frame rate of the video (frames/s); required when the marks are frame numbers.

    Returns
    -------
    tuple of VideoMark
        Sorted by start time.

    Raises
    ------
    CalibrationError
        The file is missing or unreadable, lacks the columns, has a value that is not a
        number or time, a rep that ends before it starts, is empty, or is in frames without
        ``fps``.  The message names the file and line.
    """
    p = Path(path)
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise CalibrationError(f"--fps must be a positive number of frames per second, got {fps!r}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CalibrationError(f"{p}: video marks file not found") from None
    except UnicodeDecodeError:
        raise CalibrationError(f"{p}: video marks file is not a text (UTF-8) CSV file") from None
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot read video marks: {exc.strerror or exc}") from None

    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise CalibrationError(f"{p}: video marks file is empty; expected a header rep,start_s,end_s and one row per rep")
    header_line, header_text = lines[0]
    delimiter = ","
    if "," not in header_text:
        delimiter = ";" if ";" in header_text else ("\t" if "\t" in header_text else ",")
    header = [h.strip().lower() for h in next(csv.reader([header_text], delimiter=delimiter))]
    expected = (
        "expected columns rep,start_s,end_s (seconds on the video's clock) "
        "or rep,start_frame,end_frame (frame numbers, with --fps)"
    )
    if "rep" not in header:
        raise CalibrationError(f"{p}:{header_line}: no 'rep' column; {expected}; found: {', '.join(header)}")
    if all(c in header for c in _SECONDS_COLUMNS):
        in_frames = False
    elif all(c in header for c in _FRAME_COLUMNS):
        in_frames = True
        if fps is None:
            raise CalibrationError(
                f"{p}: the marks are frame numbers (start_frame,end_frame) but no frame rate was given; "
                "pass --fps with the video's frame rate (e.g. --fps 29.97; it is in the video's file properties)"
            )
    else:
        raise CalibrationError(f"{p}:{header_line}: {expected}; found: {', '.join(header)}")
    dup = [h for h, c in Counter(header).items() if c > 1]
    if dup:
        raise CalibrationError(f"{p}:{header_line}: column(s) {', '.join(dup)} appear more than once")
    known = {"rep", "set", "notes", *_SECONDS_COLUMNS, *_FRAME_COLUMNS, "concentric_end_s", "concentric_end_frame"}

    def col(row: dict[str, str], name: str) -> str | None:
        v = row.get(name)
        return v.strip() if v is not None and v.strip() != "" else None

    marks: list[VideoMark] = []
    for line_no, raw in lines[1:]:
        cells = next(csv.reader([raw], delimiter=delimiter))
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            raise CalibrationError(
                f"{p}:{line_no}: {len(cells)} values but the header has {len(header)} columns ({', '.join(header)})"
            )
        row = {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header)}
        where = f"{p}:{line_no}"
        rep_text = col(row, "rep")
        if rep_text is None:
            raise CalibrationError(f"{where}: the rep number is empty")
        try:
            rep = int(rep_text)
        except ValueError:
            raise CalibrationError(f"{where}: rep must be a whole number, got {rep_text!r}") from None
        set_text = col(row, "set")
        set_index = None
        if set_text is not None:
            try:
                set_index = int(set_text)
            except ValueError:
                raise CalibrationError(f"{where}: set must be a whole number, got {set_text!r}") from None

        def value(name: str, *, required: bool) -> float | None:
            t = col(row, name)
            if t is None:
                if required:
                    raise CalibrationError(f"{where}: {name} is empty")
                return None
            if name.endswith("_frame"):
                try:
                    frames = float(t)
                except ValueError:
                    raise CalibrationError(f"{where}: {name} must be a frame number, got {t!r}") from None
                if not math.isfinite(frames):
                    raise CalibrationError(f"{where}: {name} must be a frame number, got {t!r}")
                assert fps is not None
                return frames / fps
            seconds = _parse_time(t)
            if seconds is None:
                raise CalibrationError(
                    f"{where}: {name} must be a time in seconds (e.g. 83.42 or 1:23.42), got {t!r}"
                )
            return seconds

        if in_frames:
            start = value("start_frame", required=True)
            end = value("end_frame", required=True)
            conc = value("concentric_end_frame", required=False)
            if conc is None and "concentric_end_s" in header:
                conc = value("concentric_end_s", required=False)
        else:
            start = value("start_s", required=True)
            end = value("end_s", required=True)
            conc = value("concentric_end_s", required=False)
            if conc is None and "concentric_end_frame" in header and fps is not None:
                conc = value("concentric_end_frame", required=False)
        assert start is not None and end is not None
        if start < 0:
            raise CalibrationError(f"{where}: rep {rep} starts at a negative time ({start:g} s)")
        if not end > start:
            raise CalibrationError(
                f"{where}: rep {rep} ends ({end:g} s) before or when it starts ({start:g} s); "
                "check the start and end columns are not swapped"
            )
        if conc is not None and not start <= conc <= end:
            raise CalibrationError(
                f"{where}: rep {rep}: concentric_end ({conc:g} s) is outside the rep ({start:g} to {end:g} s)"
            )
        extra = tuple((h, row[h].strip()) for h in header if h not in known and h)
        marks.append(
            VideoMark(
                rep=rep, start_s=start, end_s=end, concentric_end_s=conc, notes=col(row, "notes"),
                set_index=set_index, line=line_no, extra=extra,
            )
        )
    if not marks:
        raise CalibrationError(f"{p}: no reps in the video marks file (only a header)")
    marks.sort(key=lambda m: (m.start_s, m.line))
    return tuple(marks)


def _parse_time(text: str) -> float | None:
    """Seconds from ``83.42``, ``1:23.42`` or ``0:01:23.42``; None when it is not a time."""
    parts = text.split(":")
    if len(parts) > 3:
        return None
    try:
        nums = [float(x) for x in parts]
    except ValueError:
        return None
    if not all(math.isfinite(x) for x in nums):
        return None
    if len(nums) > 1 and (any(x < 0 for x in nums) or nums[-1] >= 60 or (len(nums) == 3 and nums[1] >= 60)):
        return None
    seconds = 0.0
    for x in nums:
        seconds = seconds * 60.0 + x
    return seconds


def reps_from_analysis(analysis: Mapping[str, Any], *, source: str = "analysis") -> tuple[Rep, ...]:
    """The reps of an ``imu-tempo.analysis/1`` result as :class:`~imu_tempo.types.Rep` (device clock)."""
    reps: list[Rep] = []
    try:
        for s in analysis["sets"]:
            for r in s["reps"]:
                reps.append(
                    Rep(
                        index=int(r["index"]),
                        set_index=int(s["index"]),
                        start_s=float(r["start_s"]),
                        end_s=float(r["end_s"]),
                        concentric_s=None if r.get("concentric_s") is None else float(r["concentric_s"]),
                        detected_at_s=float(r.get("detected_at_s", r["end_s"])),
                        failure=r.get("failure"),
                        warning=bool(r.get("warning", False)),
                        gap=bool(r.get("gap", False)),
                    )
                )
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{source}: not an imu-tempo analysis result (missing or bad {exc})") from None
    reps.sort(key=lambda r: r.start_s)
    return tuple(reps)


# ---------------------------------------------------------------------------------------------
# Clock alignment
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Alignment:
    """How the sensor's clock maps onto the video's, and which reps are the same rep.

    Attributes
    ----------
    offset_s : float
        Video time minus sensor time at sensor time 0 (s).
    drift_ppm : float
        How much faster the video clock runs than the sensor's (parts per million); 0 when
        not estimated (see ``drift_note``).
    pairs : tuple of (int, int)
        Matched reps as (index into the sensor reps, index into the video marks), in time order.
    missed : tuple of int
        Video marks the sensor has no rep for (indices into the marks).
    extra : tuple of int
        Sensor reps with no video mark (indices into the sensor reps).
    method : {"auto", "given"}
        Found by matching the rep sequences, or given by the user (``--offset-s``).
    drift_fitted : bool
        Whether ``drift_ppm`` was estimated.
    drift_note : str
        Why drift was or was not estimated, in plain words.
    tolerance_s : float
        Matching tolerance used (s).
    candidates_tried : int
        Rep pairings (video rep, sensor rep, drift) the search weighed (0 when the offset was given).
    residual_ms : float
        Root-mean-square of the start and end differences of the matched reps after
        alignment (ms).
    runner_up_offset_s, runner_up_matched, runner_up_score : float, int, float, or None
        The best alignment that pairs the reps clearly differently: its offset, how many
        reps it matched, and its match score relative to the chosen one (1.0: as good),
        for judging how certain the alignment is (None when there was no other candidate).
    """

    offset_s: float
    drift_ppm: float
    pairs: tuple[tuple[int, int], ...]
    missed: tuple[int, ...]
    extra: tuple[int, ...]
    method: Literal["auto", "given"]
    drift_fitted: bool
    drift_note: str
    tolerance_s: float
    candidates_tried: int
    residual_ms: float
    runner_up_offset_s: float | None = None
    runner_up_matched: int | None = None
    runner_up_score: float | None = None

    def to_video_s(self, sensor_s: float) -> float:
        """A sensor time (s) on the video's clock (s)."""
        return self.offset_s + (1.0 + self.drift_ppm * 1e-6) * sensor_s

    @property
    def ambiguous(self) -> bool:
        """True when a clearly different pairing fits almost as well (score >= :data:`AMBIGUOUS_SCORE`).

        Typical of evenly paced continuous reps (swings) when both sides miss the first and
        last reps of the sets: pairing each rep with its neighbour fits almost as well.
        """
        return (
            self.runner_up_score is not None
            and self.runner_up_score >= AMBIGUOUS_SCORE
            and (self.runner_up_matched or 0) >= MIN_MATCHED
        )


def _arrays(reps: Sequence[Rep], marks: Sequence[VideoMark]) -> tuple[np.ndarray, ...]:
    s0 = np.array([r.start_s for r in reps], dtype=float)
    s1 = np.array([r.end_s for r in reps], dtype=float)
    v0 = np.array([m.start_s for m in marks], dtype=float)
    v1 = np.array([m.end_s for m in marks], dtype=float)
    return s0, s1, v0, v1


def _assign(
    s0: np.ndarray, s1: np.ndarray, v0: np.ndarray, v1: np.ndarray, offset_s: float, drift: float, tol_s: float
) -> list[tuple[int, int, float]]:
    """One-to-one matching under a clock model: (sensor i, mark j, cost s), cost <= tol_s."""
    m0 = offset_s + (1.0 + drift) * s0
    m1 = offset_s + (1.0 + drift) * s1
    cost = np.maximum(np.abs(m0[:, None] - v0[None, :]), np.abs(m1[:, None] - v1[None, :]))
    gated = np.where(cost <= tol_s, cost, 1e6)
    rows, cols = linear_sum_assignment(gated)
    out = [(int(i), int(j), float(cost[i, j])) for i, j in zip(rows, cols) if cost[i, j] <= tol_s]
    out.sort(key=lambda t: v0[t[1]])
    return out


def _fit_clock(
    pairs: Sequence[tuple[int, int, float]],
    s0: np.ndarray, s1: np.ndarray, v0: np.ndarray, v1: np.ndarray,
    *, min_drift_span_s: float,
) -> tuple[float, float, bool, str]:
    """Least-squares offset (and drift when warranted) on matched starts and ends."""
    i = np.array([p[0] for p in pairs])
    j = np.array([p[1] for p in pairs])
    x = np.concatenate([s0[i], s1[i]])
    y = np.concatenate([v0[j], v1[j]]) - x
    xm = float(x.mean())
    span = float(x.max() - x.min())
    offset_only = float(y.mean())
    if len(pairs) < 5:
        return offset_only, 0.0, False, f"not estimated: only {len(pairs)} matched reps (needs 5)"
    if span < min_drift_span_s:
        return offset_only, 0.0, False, f"not estimated: the matched reps span only {span:.0f} s (needs {min_drift_span_s:.0f} s)"
    xc = x - xm
    sxx = float(xc @ xc)
    slope = float(xc @ (y - y.mean())) / sxx
    resid = y - y.mean() - slope * xc
    dof = len(x) - 2
    se = math.sqrt(float(resid @ resid) / dof / sxx) if dof > 0 else math.inf
    ppm = slope * 1e6
    if abs(ppm) > MAX_DRIFT_PPM:
        return offset_only, 0.0, False, f"not used: the fit says {ppm:+.0f} ppm, beyond the plausible {MAX_DRIFT_PPM:.0f} ppm"
    if se == 0 or abs(slope) / se >= DRIFT_MIN_T:
        return float(y.mean() - slope * xm), ppm, True, f"estimated over {span:.0f} s (+/- {se * 1e6:.0f} ppm)"
    return offset_only, 0.0, False, f"not significant over {span:.0f} s ({ppm:+.0f} +/- {se * 1e6:.0f} ppm), taken as 0"


def _score(pairs: Sequence[tuple[int, int, float]], tol_s: float) -> float:
    return float(sum(1.0 - (c / tol_s) ** 2 for _, _, c in pairs))


def _coarse(
    s0: np.ndarray, s1: np.ndarray, v0: np.ndarray, v1: np.ndarray, cands: np.ndarray, tol_s: float
) -> np.ndarray:
    """Soft match score of each candidate offset (nearest sensor rep for each mark, no drift)."""
    order = np.argsort(s0)
    a0, a1 = s0[order], s1[order]
    n = len(a0)
    scores = np.empty(len(cands))
    chunk = max(1, 400_000 // max(1, len(v0)))
    for k in range(0, len(cands), chunk):
        c = cands[k:k + chunk, None]
        q0 = v0[None, :] - c  # video starts on the sensor clock, (C, M)
        q1 = v1[None, :] - c
        idx = np.searchsorted(a0, q0)
        best = np.full(q0.shape, np.inf)
        for kk in (idx - 1, idx):
            kk = np.clip(kk, 0, n - 1)
            best = np.minimum(best, np.maximum(np.abs(a0[kk] - q0), np.abs(a1[kk] - q1)))
        scores[k:k + chunk] = np.clip(1.0 - (best / tol_s) ** 2, 0.0, None).sum(axis=1)
    return scores


def _vote(a0: np.ndarray, a1: np.ndarray, v0: np.ndarray, v1: np.ndarray, tol_s: float, *, top: int = 24) -> np.ndarray:
    """Candidate offsets: the most voted-for offsets among all pairings of a video rep with a sensor rep.

    Each pairing of reps of compatible duration votes for the offset between their starts,
    in bins of half the tolerance; the true offset collects one vote per rep seen by both.
    Returns the mean offset of the votes in each of the ``top`` best pairs of adjacent bins.
    """
    diff = v0[None, :] - a0[:, None]
    compatible = np.abs((v1 - v0)[None, :] - (a1 - a0)[:, None]) <= 2 * tol_s
    votes = diff[compatible]
    if votes.size == 0:
        return np.empty(0)
    width = tol_s / 2
    bins = np.floor(votes / width).astype(np.int64)
    keys, inverse, counts = np.unique(bins, return_inverse=True, return_counts=True)
    # Votes of each bin and the next, so a true offset on a bin edge is not split.
    nxt = np.searchsorted(keys, keys + 1)
    has_next = (nxt < len(keys)) & (keys[np.minimum(nxt, len(keys) - 1)] == keys + 1)
    pair_counts = counts + np.where(has_next, counts[np.minimum(nxt, len(keys) - 1)], 0)
    sums = np.bincount(inverse, weights=votes)
    pair_sums = sums + np.where(has_next, sums[np.minimum(nxt, len(keys) - 1)], 0.0)
    best = np.argsort(-pair_counts, kind="stable")[:top]
    return pair_sums[best] / pair_counts[best]


def align(
    sensor_reps: Sequence[Rep],
    video_marks: Sequence[VideoMark],
    *,
    offset_s: float | None = None,
    drift_ppm: float | None = None,
    guess: tuple[float, float] | None = None,
    tolerance_s: float = TOLERANCE_S,
    min_matched: int = MIN_MATCHED,
    min_drift_span_s: float = MIN_DRIFT_SPAN_S,
) -> Alignment:
    """Find the clock offset (and drift) between sensor and video, and match their reps.

    Every pairing of a video rep with a sensor rep of similar duration votes for the offset
    between their starts; the most voted offsets are scored by how many reps they line up
    (start and end within ``tolerance_s``, closer is better).  For sessions long enough
    that drift matters, this is repeated for a grid of drifts up to
    :data:`SEARCH_DRIFT_PPM`.  The best few are refined by alternating one-to-one matching
    (Hungarian assignment) and a least-squares fit of offset and drift on the matched starts
    and ends, so missing and extra reps on either side only lower the score.  Drift is kept
    only when the matched reps span ``min_drift_span_s`` and it is clearly non-zero.

    Parameters
    ----------
    sensor_reps : sequence of Rep
        Reps the sensor found (device clock, s).
    video_marks : sequence of VideoMark
        Reps marked on the video (video clock, s).
    offset_s : float, optional
        The offset, known from a clap or tap (video time minus sensor time, s): no search.
    drift_ppm : float, optional
        With ``offset_s``, a known drift (ppm); default 0.
    guess : (offset_s, drift_ppm), optional
        Start the refinement here instead of searching (e.g. re-aligning corrected reps).
    tolerance_s : float
        Largest start or end difference (s) for two reps to be the same rep.
    min_matched : int
        Fewest matched reps accepted.
    min_drift_span_s : float
        Shortest span of matched reps (s) over which drift is estimated.

    Raises
    ------
    CalibrationError
        Fewer than ``min_matched`` reps can be matched; the message says what was tried.
    """
    if not sensor_reps:
        raise CalibrationError("the sensor found no reps in the recording, so there is nothing to compare with the video")
    if not video_marks:
        raise CalibrationError("the video marks contain no reps")
    s0, s1, v0, v1 = _arrays(sensor_reps, video_marks)
    tol = float(tolerance_s)

    def result(off: float, ppm: float, pairs: list[tuple[int, int, float]], method: Literal["auto", "given"],
               fitted: bool, note: str, tried: int, runner: tuple[float, int, float] | None) -> Alignment:
        matched_s = {i for i, _, _ in pairs}
        matched_v = {j for _, j, _ in pairs}
        d = ppm * 1e-6
        res = [off + (1 + d) * s0[i] - v0[j] for i, j, _ in pairs] + [off + (1 + d) * s1[i] - v1[j] for i, j, _ in pairs]
        rms = float(np.sqrt(np.mean(np.square(res)))) * 1e3 if res else math.nan
        return Alignment(
            offset_s=float(off), drift_ppm=float(ppm),
            pairs=tuple((i, j) for i, j, _ in pairs),
            missed=tuple(j for j in np.argsort(v0, kind="stable").tolist() if j not in matched_v),
            extra=tuple(i for i in np.argsort(s0, kind="stable").tolist() if i not in matched_s),
            method=method, drift_fitted=fitted, drift_note=note, tolerance_s=tol, candidates_tried=tried,
            residual_ms=rms,
            runner_up_offset_s=None if runner is None else float(runner[0]),
            runner_up_matched=None if runner is None else int(runner[1]),
            runner_up_score=None if runner is None else round(float(runner[2]), 3),
        )

    if offset_s is not None:
        ppm = 0.0 if drift_ppm is None else float(drift_ppm)
        pairs = _assign(s0, s1, v0, v1, float(offset_s), ppm * 1e-6, tol)
        if len(pairs) < min_matched:
            raise CalibrationError(
                f"with the given offset ({offset_s:+.3f} s, i.e. video time minus sensor time) only {len(pairs)} of "
                f"{len(video_marks)} video reps line up with one of the {len(sensor_reps)} sensor reps within "
                f"+/-{tol:g} s; {min_matched} are needed. Check the value and the sign of --offset-s, "
                "or leave it out to find the offset automatically"
            )
        note = "given" if drift_ppm is not None else "not estimated: the offset was given"
        return result(float(offset_s), ppm, pairs, "given", drift_ppm is not None, note, 0, None)

    drift_grid = [0.0]
    if guess is not None:
        starts = [(float(guess[0]), float(guess[1]) * 1e-6)]
        tried = 1
    else:
        # Offsets from every pairing of starts, for each drift of a grid fine enough that the
        # grid's error over the whole session stays under half the tolerance.
        span = float(max(s1.max(), s0.max()) - s0.min())
        steps = math.ceil(SEARCH_DRIFT_PPM * 1e-6 * span / (tol / 2))
        if steps > 0:
            drift_grid = list(np.linspace(-SEARCH_DRIFT_PPM, SEARCH_DRIFT_PPM, 2 * steps + 1) * 1e-6)
            drift_grid.sort(key=abs)  # 0 first: ties go to no drift
        found: list[tuple[float, float, float]] = []  # (score, offset, drift)
        tried = 0
        for d in drift_grid:
            a0, a1 = (1.0 + d) * s0, (1.0 + d) * s1
            cands = _vote(a0, a1, v0, v1, tol)
            tried += len(s0) * len(v0)
            scores = _coarse(a0, a1, v0, v1, cands, tol)
            found.extend((float(sc), float(c), float(d)) for sc, c in zip(scores, cands) if sc > 0)
        found.sort(key=lambda x: -x[0])
        t_lo, t_hi = float(s0.min()), float(s1.max())
        starts = []
        for _, c, d in found:
            if all(
                abs(c + d * t_lo - o - e * t_lo) > tol or abs(c + d * t_hi - o - e * t_hi) > tol for o, e in starts
            ):
                starts.append((c, d))
            if len(starts) >= 8:
                break

    refined: list[tuple[float, float, float, bool, str, list[tuple[int, int, float]]]] = []
    for off, drift in starts:
        pairs: list[tuple[int, int, float]] = []
        fitted, note = False, ""
        seen: set[tuple[tuple[int, int], ...]] = set()
        for _ in range(25):
            pairs = _assign(s0, s1, v0, v1, off, drift, tol)
            if not pairs:
                break
            key = tuple((i, j) for i, j, _ in pairs)
            if key in seen:
                break
            seen.add(key)
            off, ppm, fitted, note = _fit_clock(pairs, s0, s1, v0, v1, min_drift_span_s=min_drift_span_s)
            drift = ppm * 1e-6
        pairs = _assign(s0, s1, v0, v1, off, drift, tol)
        refined.append((_score(pairs, tol), off, drift * 1e6, fitted, note, pairs))
    refined.sort(key=lambda r: -r[0])
    if not refined or len(refined[0][5]) < min_matched:
        best_n = len(refined[0][5]) if refined else 0
        if guess is not None:
            how = f"starting from the offset {guess[0]:+.3f} s"
        else:
            lo = float((v0[None, :] - s0[:, None]).min())
            hi = float((v0[None, :] - s0[:, None]).max())
            drifts = "" if len(drift_grid) == 1 else f", under {len(drift_grid)} clock drifts up to +/-{SEARCH_DRIFT_PPM:.0f} ppm"
            how = (
                f"tried the offsets of all {len(s0) * len(v0)} pairings of a video rep with a sensor rep, "
                f"from {lo:+.1f} s to {hi:+.1f} s{drifts}"
            )
        raise CalibrationError(
            f"could not line up the video with the recording: {how}; the best lined up only {best_n} of "
            f"{len(video_marks)} video reps with the {len(sensor_reps)} sensor reps (start and end within "
            f"+/-{tol:g} s), and {min_matched} are needed. Check that the marks belong to this recording and "
            "are in seconds (or frames with the right --fps), or give the offset from a clap with --offset-s"
        )
    score, off, ppm, fitted, note, pairs = refined[0]
    # The runner-up: the best solution that pairs the reps clearly differently.
    best_pairs = {(i, j) for i, j, _ in pairs}
    runner = next(
        (
            (r[1], len(r[5]), r[0] / score) for r in refined[1:]
            if r[5] and len(best_pairs & {(i, j) for i, j, _ in r[5]}) < 0.5 * min(len(best_pairs), len(r[5]))
        ),
        None,
    )
    return result(off, ppm, pairs, "auto", fitted, note, tried, runner)


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agreement:
    """Bland-Altman agreement of one quantity (errors = sensor - video, ms).

    ``loa_ms`` is the 95 % limits of agreement, bias +/- 1.96 SD; None below two values.
    """

    n: int
    bias_ms: float | None
    sd_ms: float | None
    mae_ms: float | None
    loa_ms: tuple[float, float] | None

    @staticmethod
    def of(errors_ms: Iterable[float]) -> Agreement:
        e = np.asarray([x for x in errors_ms if x is not None], dtype=float)
        if e.size == 0:
            return Agreement(0, None, None, None, None)
        bias = float(e.mean())
        mae = float(np.abs(e).mean())
        if e.size < 2:
            return Agreement(1, bias, None, mae, None)
        sd = float(e.std(ddof=1))
        return Agreement(int(e.size), bias, sd, mae, (bias - 1.96 * sd, bias + 1.96 * sd))

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "bias_ms": _ms(self.bias_ms),
            "sd_ms": _ms(self.sd_ms),
            "mae_ms": _ms(self.mae_ms),
            "loa_ms": None if self.loa_ms is None else [_ms(self.loa_ms[0]), _ms(self.loa_ms[1])],
        }


@dataclass(frozen=True, slots=True)
class RepError:
    """One matched rep: video against sensor (times on the video clock, s; errors in ms)."""

    mark: int  # index into the video marks
    video_rep: int
    group: int  # the video set (1-based) this rep belongs to
    sensor_set: int
    sensor_rep: int
    video_start_s: float
    video_end_s: float
    sensor_start_s: float  # on the video clock
    sensor_end_s: float  # on the video clock
    start_error_ms: float
    end_error_ms: float
    duration_error_ms: float
    concentric_error_ms: float | None
    video_duration_s: float
    sensor_duration_s: float
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class FailureCheck:
    """Where each side puts a set's first tempo-failure rep.

    ``agrees`` is True when both put it on the same (matched) rep or neither fails.
    """

    group: int
    sensor_set: int | None
    video_rep: int | None
    video_reason: str | None
    sensor_rep: int | None
    sensor_reason: str | None
    agrees: bool


@dataclass(frozen=True, slots=True)
class Report:
    """The comparison of one recording with one marks file."""

    recording: str
    marks_path: str
    alignment: Alignment
    per_rep: tuple[RepError, ...]
    missed: tuple[tuple[VideoMark, int], ...]  # (mark, group)
    extra: tuple[tuple[Rep, int], ...]  # (sensor rep, nearest group)
    failure: tuple[FailureCheck, ...]
    failure_note: str | None
    groups: tuple[int, ...]

    @property
    def matched(self) -> int:
        return len(self.per_rep)

    @property
    def duration(self) -> Agreement:
        return Agreement.of(r.duration_error_ms for r in self.per_rep)

    @property
    def start(self) -> Agreement:
        return Agreement.of(r.start_error_ms for r in self.per_rep)

    @property
    def end(self) -> Agreement:
        return Agreement.of(r.end_error_ms for r in self.per_rep)

    @property
    def concentric(self) -> Agreement:
        return Agreement.of(r.concentric_error_ms for r in self.per_rep if r.concentric_error_ms is not None)

    @property
    def failure_rep_agrees(self) -> bool | None:
        return None if not self.failure else all(f.agrees for f in self.failure)


def video_sets(marks: Sequence[VideoMark], *, set_rest_s: float) -> tuple[int, ...]:
    """The set (1-based) of each mark: its ``set`` column, else split at rests >= ``set_rest_s``."""
    if marks and all(m.set_index is not None for m in marks):
        return tuple(int(m.set_index) for m in marks)  # type: ignore[arg-type]
    out: list[int] = []
    label = 0
    prev_end: float | None = None
    for m in marks:
        if prev_end is None or m.start_s - prev_end >= set_rest_s:
            label += 1
        out.append(label)
        prev_end = m.end_s if prev_end is None else max(prev_end, m.end_s)
    return tuple(out)


def compare(
    sensor_reps: Sequence[Rep],
    video_marks: Sequence[VideoMark],
    alignment: Alignment,
    *,
    settings: Settings,
    recording: str = "",
    marks_path: str = "",
) -> Report:
    """Per-rep and per-set comparison under an alignment.

    Parameters
    ----------
    sensor_reps, video_marks : sequences
        The same sequences given to :func:`align`.
    alignment : Alignment
        From :func:`align`.
    settings : Settings
        ``set_rest_s`` splits the video into sets (unless it has a ``set`` column);
        ``threshold_s``, ``slowdown``, ``confirm``, ``warning_margin`` and ``measure`` are the
        tempo rule each side's first failing rep is found with.
    """
    groups = video_sets(video_marks, set_rest_s=settings.set_rest_s)
    scale = 1.0 + alignment.drift_ppm * 1e-6
    per_rep: list[RepError] = []
    partner: dict[int, int] = {}  # mark -> sensor rep
    for i, j in alignment.pairs:
        r, m = sensor_reps[i], video_marks[j]
        partner[j] = i
        a, b = alignment.to_video_s(r.start_s), alignment.to_video_s(r.end_s)
        conc = None
        if r.concentric_s is not None and m.concentric_s is not None:
            conc = (r.concentric_s * scale - m.concentric_s) * 1e3
        per_rep.append(
            RepError(
                mark=j, video_rep=m.rep, group=groups[j], sensor_set=r.set_index, sensor_rep=r.index,
                video_start_s=m.start_s, video_end_s=m.end_s, sensor_start_s=a, sensor_end_s=b,
                start_error_ms=(a - m.start_s) * 1e3, end_error_ms=(b - m.end_s) * 1e3,
                duration_error_ms=((b - a) - m.duration_s) * 1e3, concentric_error_ms=conc,
                video_duration_s=m.duration_s, sensor_duration_s=b - a, notes=m.notes,
            )
        )
    missed = tuple((video_marks[j], groups[j]) for j in alignment.missed)

    # Each video set's time span, to place the sensor's extra reps.
    spans: dict[int, tuple[float, float]] = {}
    for m, g in zip(video_marks, groups):
        lo, hi = spans.get(g, (m.start_s, m.end_s))
        spans[g] = (min(lo, m.start_s), max(hi, m.end_s))

    def nearest_group(t: float) -> int:
        return min(spans, key=lambda g: max(spans[g][0] - t, 0.0, t - spans[g][1]))

    extra = tuple(
        (sensor_reps[i], nearest_group(alignment.to_video_s(0.5 * (sensor_reps[i].start_s + sensor_reps[i].end_s))))
        for i in alignment.extra
    )

    checks, note = _failure_checks(sensor_reps, video_marks, groups, partner, settings=settings)
    return Report(
        recording=recording, marks_path=marks_path, alignment=alignment, per_rep=tuple(per_rep),
        missed=missed, extra=extra, failure=checks, failure_note=note, groups=tuple(sorted(set(groups))),
    )


def _failure_checks(
    reps: Sequence[Rep],
    marks: Sequence[VideoMark],
    groups: Sequence[int],
    partner: Mapping[int, int],
    *,
    settings: Settings,
) -> tuple[tuple[FailureCheck, ...], str | None]:
    concentric = settings.measure == "concentric"
    if concentric and all(m.concentric_end_s is None for m in marks):
        return (), "not checked: the measure is the concentric phase and the video marks have no concentric_end_s"
    rule = dict(
        threshold_s=settings.threshold_s, slowdown=settings.slowdown,
        confirm=settings.confirm, warning_margin=settings.warning_margin,
    )
    checks: list[FailureCheck] = []
    for g in sorted(set(groups)):
        idx = [j for j in range(len(marks)) if groups[j] == g]
        vm = [marks[j].concentric_s if concentric else marks[j].duration_s for j in idx]
        vf = first_failure(vm, **rule)
        v_mark = None if vf is None else idx[vf[0] - 1]
        partners = [reps[partner[j]].set_index for j in idx if j in partner]
        sensor_set = Counter(partners).most_common(1)[0][0] if partners else None
        s_rep: int | None = None
        s_pos: int | None = None
        s_reason: str | None = None
        if sensor_set is not None:
            pos = sorted((k for k, r in enumerate(reps) if r.set_index == sensor_set), key=lambda k: reps[k].start_s)
            sm = [reps[k].concentric_s if concentric else reps[k].duration_s for k in pos]
            sf = first_failure(sm, **rule)
            if sf is not None:
                s_pos = pos[sf[0] - 1]
                s_rep, s_reason = reps[s_pos].index, sf[1]
        if v_mark is None:
            agrees = s_pos is None
        else:
            agrees = s_pos is not None and partner.get(v_mark) == s_pos
        checks.append(
            FailureCheck(
                group=g, sensor_set=sensor_set,
                video_rep=None if v_mark is None else marks[v_mark].rep,
                video_reason=None if vf is None else vf[1],
                sensor_rep=s_rep, sensor_reason=s_reason, agrees=agrees,
            )
        )
    return tuple(checks), None


@dataclass(frozen=True, slots=True)
class Summary:
    """Pooled error over some reports (or some sets of them)."""

    matched: int
    missed: int
    extra: int
    duration: Agreement
    start: Agreement
    end: Agreement
    debiased_duration_mae_ms: float | None  # MAE once the duration bias is removed
    failure_sets: int
    failure_agree: int

    def to_json(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "missed": self.missed,
            "extra": self.extra,
            "bias_ms": _ms(self.duration.bias_ms),
            "mae_ms": _ms(self.duration.mae_ms),
            "loa_ms": None if self.duration.loa_ms is None else [_ms(x) for x in self.duration.loa_ms],
            "start": self.start.to_json(),
            "end": self.end.to_json(),
            "failure_sets": self.failure_sets,
            "failure_sets_agreeing": self.failure_agree,
        }


def summarize(reports: Sequence[Report], groups: Iterable[tuple[int, int]] | None = None) -> Summary:
    """Pool reports; ``groups`` = (report index, video set) pairs to keep (all when None)."""
    keep = None if groups is None else set(groups)

    def ok(k: int, g: int) -> bool:
        return keep is None or (k, g) in keep

    per = [e for k, rp in enumerate(reports) for e in rp.per_rep if ok(k, e.group)]
    missed = sum(1 for k, rp in enumerate(reports) for _, g in rp.missed if ok(k, g))
    extra = sum(1 for k, rp in enumerate(reports) for _, g in rp.extra if ok(k, g))
    checks = [f for k, rp in enumerate(reports) for f in rp.failure if ok(k, f.group)]
    dur = np.array([e.duration_error_ms for e in per], dtype=float)
    return Summary(
        matched=len(per), missed=missed, extra=extra,
        duration=Agreement.of(dur), start=Agreement.of(e.start_error_ms for e in per),
        end=Agreement.of(e.end_error_ms for e in per),
        debiased_duration_mae_ms=float(np.abs(dur - dur.mean()).mean()) if dur.size else None,
        failure_sets=len(checks), failure_agree=sum(f.agrees for f in checks),
    )


# ---------------------------------------------------------------------------------------------
# Profiles: fitting, cross-validation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """A calibration: absolute settings values that later analyses apply.

    ``start_offset_s`` / ``end_offset_s`` are added to every rep's start / end time (s);
    ``detector`` holds detector settings that differ from the defaults, as (name, value).
    """

    start_offset_s: float = 0.0
    end_offset_s: float = 0.0
    detector: tuple[tuple[str, float], ...] = ()

    def settings_changes(self) -> dict[str, float]:
        """Keyword changes for :meth:`Settings.replace`."""
        return {"start_offset_s": self.start_offset_s, "end_offset_s": self.end_offset_s, **dict(self.detector)}

    def to_json(self) -> dict[str, Any]:
        return {
            "start_offset_s": round(self.start_offset_s, 4),
            "end_offset_s": round(self.end_offset_s, 4),
            "detector": {k: v for k, v in self.detector},
        }


@dataclass(frozen=True, slots=True, eq=False)
class MarkedSession:
    """A recording with its video marks, and how to find the sensor's reps in it.

    ``detect(settings)`` returns the sensor's reps on the device clock for the given
    settings, *without* start/end offsets (they are applied here); the CLI runs the engine
    on the recording, tests pass synthetic reps.  ``offset_s`` is a clap/tap-synchronised
    clock offset (video minus sensor time, s), or None to find it.
    """

    recording: str
    marks_path: str
    marks: tuple[VideoMark, ...]
    detect: Callable[[Settings], Sequence[Rep]]
    offset_s: float | None = None


def apply_offsets(reps: Sequence[Rep], *, start_offset_s: float, end_offset_s: float) -> tuple[Rep, ...]:
    """Reps with the profile's start/end corrections added (s); the concentric phase is kept as is."""
    if start_offset_s == 0 and end_offset_s == 0:
        return tuple(reps)
    return tuple(_dc_replace(r, start_s=r.start_s + start_offset_s, end_s=r.end_s + end_offset_s) for r in reps)


class _Bench:
    """Runs detection and comparison for every session under candidate profiles, with caching."""

    def __init__(self, sessions: Sequence[MarkedSession], *, settings: Settings, tolerance_s: float) -> None:
        if not sessions:
            raise CalibrationError("nothing to calibrate: give at least one recording with its video marks")
        self.sessions = list(sessions)
        self.settings = settings
        self.raw = settings.replace(start_offset_s=0.0, end_offset_s=0.0, calibration=None)
        self.tolerance_s = tolerance_s
        # Detector values of the starting settings that differ from the defaults (an existing
        # profile's) stay in every profile fitted from here, so a saved profile stands alone.
        defaults = Settings()
        base_detector = _items(
            {k: getattr(settings, k) for k in DETECTOR_BOUNDS if getattr(settings, k) != getattr(defaults, k)}
        )
        self.base = Profile(settings.start_offset_s, settings.end_offset_s, base_detector)
        self._reps: dict[tuple[int, tuple[tuple[str, float], ...]], tuple[Rep, ...]] = {}
        self._reports: dict[tuple[int, Profile], Report] = {}
        self._base_alignment: dict[int, Alignment] = {}

    def settings_for(self, detector: tuple[tuple[str, float], ...]) -> Settings:
        return self.raw.replace(**dict(detector)) if detector else self.raw

    def reps(self, k: int, detector: tuple[tuple[str, float], ...]) -> tuple[Rep, ...]:
        key = (k, detector)
        if key not in self._reps:
            reps = tuple(sorted(self.sessions[k].detect(self.settings_for(detector)), key=lambda r: r.start_s))
            self._reps[key] = reps
        return self._reps[key]

    def report(self, k: int, profile: Profile) -> Report:
        key = (k, profile)
        if key in self._reports:
            return self._reports[key]
        s = self.sessions[k]
        reps = apply_offsets(
            self.reps(k, profile.detector), start_offset_s=profile.start_offset_s, end_offset_s=profile.end_offset_s
        )
        try:
            if s.offset_s is not None:
                al = align(reps, s.marks, offset_s=s.offset_s, tolerance_s=self.tolerance_s)
            elif profile == self.base:
                al = align(reps, s.marks, tolerance_s=self.tolerance_s)
                self._base_alignment[k] = al
            else:
                base = self._base_alignment.get(k) or self.report(k, self.base).alignment
                al = align(reps, s.marks, guess=(base.offset_s, base.drift_ppm), tolerance_s=self.tolerance_s)
        except CalibrationError as exc:
            raise CalibrationError(f"{s.recording} with {s.marks_path}: {exc}") from None
        rp = compare(reps, s.marks, al, settings=self.settings, recording=s.recording, marks_path=s.marks_path)
        self._reports[key] = rp
        return rp

    def reports(self, profile: Profile) -> list[Report]:
        return [self.report(k, profile) for k in range(len(self.sessions))]

    def summary(self, profile: Profile, groups: Iterable[tuple[int, int]] | None = None) -> Summary:
        return summarize(self.reports(profile), groups)

    def all_groups(self) -> list[tuple[int, int]]:
        return [(k, g) for k, rp in enumerate(self.reports(self.base)) for g in rp.groups]


def _measurably_better(new: Summary, old: Summary) -> bool:
    """Clearly fewer detection errors without worse timing, or clearly better timing with no more errors.

    "Clearly fewer": at least 2 fewer missed plus extra reps, and at least 5 % of the video's reps.
    """
    if new.matched < MIN_MATCHED or new.debiased_duration_mae_ms is None:
        return False
    n_err, o_err = new.missed + new.extra, old.missed + old.extra
    n_mae, o_mae = new.debiased_duration_mae_ms, old.debiased_duration_mae_ms or math.inf
    if o_err - n_err >= max(2, math.ceil(0.05 * (old.matched + old.missed))):
        return n_mae <= o_mae * 1.1 + _DEBIASED_MAE_MIN_MS
    if n_err <= o_err:
        return n_mae <= o_mae * _DEBIASED_MAE_GAIN and o_mae - n_mae >= _DEBIASED_MAE_MIN_MS
    return False


def _fit(bench: _Bench, train: Sequence[tuple[int, int]] | None, *, tune_detector: bool) -> Profile:
    detector: dict[str, float] = dict(bench.base.detector)
    if tune_detector:
        best = bench.summary(bench.base, train)
        for name, (lo, hi) in DETECTOR_BOUNDS.items():
            start = detector.get(name, getattr(bench.raw, name))
            chosen = dict(detector)
            for value in sorted({round(start * k, 3) for k in DETECTOR_STEPS}):
                if not lo <= value <= hi or value == detector.get(name, getattr(bench.raw, name)):
                    continue
                cand = {**detector, name: value}
                try:
                    bench.settings_for(_items(cand))
                    summ = bench.summary(
                        Profile(bench.base.start_offset_s, bench.base.end_offset_s, _items(cand)), train
                    )
                except (ConfigError, CalibrationError):
                    continue  # not a valid setting, or the reps it finds cannot be lined up: not better
                if _measurably_better(summ, best):
                    best, chosen = summ, cand
            detector = chosen
    det = _items(detector)
    # Start/end corrections: remove the mean start and end errors left by the current offsets.
    current = Profile(bench.base.start_offset_s, bench.base.end_offset_s, det)
    summ = bench.summary(current, train)
    if summ.matched < MIN_MATCHED:
        return current
    lo, hi = OFFSET_BOUNDS_S
    start = float(np.clip(current.start_offset_s - (summ.start.bias_ms or 0.0) / 1e3, lo, hi))
    end = float(np.clip(current.end_offset_s - (summ.end.bias_ms or 0.0) / 1e3, lo, hi))
    return Profile(round(start, 4), round(end, 4), det)


def _items(d: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((k, float(v)) for k, v in d.items()))


def fit_profile(
    sessions: Sequence[MarkedSession],
    *,
    settings: Settings,
    tune_detector: bool = True,
    tolerance_s: float = TOLERANCE_S,
) -> Profile:
    """Fit a calibration profile to one or more marked sessions.

    The start and end corrections remove the mean start and end errors (bounded by
    :data:`OFFSET_BOUNDS_S`).  With ``tune_detector``, each setting of
    :data:`DETECTOR_BOUNDS` is tried in turn at :data:`DETECTOR_STEPS` times its starting
    value (within its bounds) and kept only when it measurably helps: at least 2 (and 5 %)
    fewer missed plus extra reps without worse timing, or a duration MAE (bias removed) at
    least 10 % and 5 ms lower with no more detection errors.
    Starts from ``settings`` (its offsets, if any, are the starting point).
    """
    return _fit(_Bench(sessions, settings=settings, tolerance_s=tolerance_s), None, tune_detector=tune_detector)


@dataclass(frozen=True, slots=True)
class Fold:
    """One held-out set: the profile fitted without it and its error before/after."""

    session: int
    group: int
    profile: Profile
    before: Summary
    after: Summary


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """Leave-one-set-out: each set judged by a profile fitted on the others."""

    folds: tuple[Fold, ...]
    before: Summary
    after: Summary


def _cross_validate(bench: _Bench, *, tune_detector: bool) -> CrossValidation | None:
    groups = bench.all_groups()
    if len(groups) < 2:
        return None
    folds: list[Fold] = []
    before_reports: list[tuple[Report, int, int]] = []
    after_reports: list[tuple[Report, int, int]] = []
    for k, g in groups:
        train = [x for x in groups if x != (k, g)]
        if bench.summary(bench.base, train).matched < MIN_MATCHED:
            continue
        prof = _fit(bench, train, tune_detector=tune_detector)
        folds.append(Fold(k, g, prof, bench.summary(bench.base, [(k, g)]), bench.summary(prof, [(k, g)])))
        before_reports.append((bench.report(k, bench.base), k, g))
        after_reports.append((bench.report(k, prof), k, g))
    if not folds:
        return None

    def pooled(items: list[tuple[Report, int, int]]) -> Summary:
        return summarize([r for r, _, _ in items], [(n, g) for n, (_, _, g) in enumerate(items)])

    return CrossValidation(tuple(folds), pooled(before_reports), pooled(after_reports))


def cross_validate(
    sessions: Sequence[MarkedSession],
    *,
    settings: Settings,
    tune_detector: bool = True,
    tolerance_s: float = TOLERANCE_S,
) -> CrossValidation | None:
    """Leave one set out: fit on the other sets, measure on the held-out one, pool the held-out errors.

    A *set* is a video set (its ``set`` column, or reps separated by a rest of
    ``settings.set_rest_s``) of one session.  None when there are fewer than two sets.
    """
    return _cross_validate(_Bench(sessions, settings=settings, tolerance_s=tolerance_s), tune_detector=tune_detector)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Everything ``imu-tempo calibrate`` reports."""

    settings: Settings
    reports: tuple[Report, ...]  # with the starting settings (no profile, unless one was given)
    corrected: tuple[Report, ...]  # with the fitted profile
    profile: Profile
    before: Summary
    after: Summary
    cross_validation: CrossValidation | None


def calibrate(
    sessions: Sequence[MarkedSession],
    *,
    settings: Settings,
    tune_detector: bool = True,
    tolerance_s: float = TOLERANCE_S,
) -> Calibration:
    """Compare every session with its video, fit a profile, and cross-validate it.

    Parameters
    ----------
    sessions : sequence of MarkedSession
        Recordings with their marks.
    settings : Settings
        The starting settings: tempo rule, set rest, detector values, and offsets of an
        existing profile (then "before" is that profile, and the new one replaces it).
    tune_detector : bool
        Also try detector settings (costs one extra detection per tried value and session).
    tolerance_s : float
        Matching tolerance (s).

    Raises
    ------
    CalibrationError
        A session cannot be aligned (the message names it), or no set has 3 matched reps.
    """
    bench = _Bench(sessions, settings=settings, tolerance_s=tolerance_s)
    reports = bench.reports(bench.base)
    profile = _fit(bench, None, tune_detector=tune_detector)
    cv = _cross_validate(bench, tune_detector=tune_detector)
    return Calibration(
        settings=settings, reports=tuple(reports), corrected=tuple(bench.reports(profile)), profile=profile,
        before=bench.summary(bench.base), after=bench.summary(profile), cross_validation=cv,
    )


# ---------------------------------------------------------------------------------------------
# Profiles on disk
# ---------------------------------------------------------------------------------------------


def save_profile(
    profile: Profile, path: str | Path, *, provenance: Mapping[str, Any] | None = None
) -> Path:
    """Write ``profile`` as TOML (schema :data:`PROFILE_SCHEMA`); returns the path.

    ``provenance`` (what it was fitted on and how well it did) goes to a ``[fit]`` table
    that :func:`load_profile` ignores.
    """
    import tomli_w

    doc: dict[str, Any] = {
        "schema": PROFILE_SCHEMA,
        "settings": {k: round(float(v), 4) for k, v in profile.settings_changes().items()},
        "bounds": {
            "start_offset_s": list(OFFSET_BOUNDS_S),
            "end_offset_s": list(OFFSET_BOUNDS_S),
            **{k: list(DETECTOR_BOUNDS[k]) for k, _ in profile.detector},
        },
    }
    if provenance:
        doc["fit"] = _toml_clean(provenance)
    p = Path(path)
    try:
        p.write_text(
            "# imu-tempo calibration profile: apply with  imu-tempo analyze REC.csv --calibration "
            f"{p.name}\n" + tomli_w.dumps(doc),
            encoding="utf-8",
        )
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot write the profile: {exc.strerror or exc}") from None
    return p


def _toml_clean(x: Any) -> Any:
    """TOML has no null: drop Nones; tuples become lists."""
    if isinstance(x, Mapping):
        return {str(k): _toml_clean(v) for k, v in x.items() if v is not None}
    if isinstance(x, (list, tuple)):
        return [_toml_clean(v) for v in x if v is not None]
    return x


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read a profile saved by ``imu-tempo calibrate --save``.

    Returns
    -------
    dict
        Changes for :meth:`Settings.replace`: ``start_offset_s``, ``end_offset_s``, any
        detector settings, and ``calibration`` (the path, for the record).  Loading is
        deterministic: the same file gives the same changes.

    Raises
    ------
    CalibrationError
        The file is missing, not TOML, not a profile, of another schema version, or has an
        unknown key or a value outside the bounds.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise CalibrationError(f"{p}: calibration profile not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{p}: not a valid TOML calibration profile ({exc})") from None
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot read the calibration profile: {exc.strerror or exc}") from None
    schema = doc.get("schema")
    if schema != PROFILE_SCHEMA:
        if isinstance(schema, str) and schema.startswith("imu-tempo.profile/"):
            raise CalibrationError(
                f"{p}: profile format {schema!r} is not the one this imu-tempo reads ({PROFILE_SCHEMA!r}); "
                "make a new one with `imu-tempo calibrate ... --save`"
            )
        raise CalibrationError(
            f"{p}: not an imu-tempo calibration profile (schema = {schema!r}, expected {PROFILE_SCHEMA!r}); "
            "make one with `imu-tempo calibrate ... --save`"
        )
    settings = doc.get("settings")
    if not isinstance(settings, dict):
        raise CalibrationError(f"{p}: the profile has no [settings] table")
    unknown = sorted(set(settings) - set(_PROFILE_KEYS))
    if unknown:
        raise CalibrationError(
            f"{p}: unknown setting(s) {', '.join(unknown)} in [settings]; a profile may set {', '.join(_PROFILE_KEYS)}"
        )
    changes: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CalibrationError(f"{p}: {key} must be a number, got {value!r}")
        lo, hi = OFFSET_BOUNDS_S if key.endswith("_offset_s") else DETECTOR_BOUNDS[key]
        if not lo <= value <= hi:
            raise CalibrationError(f"{p}: {key} = {value} is outside its bounds [{lo}, {hi}]")
        changes[key] = float(value)
    try:
        Settings().replace(**changes)
    except ConfigError as exc:
        raise CalibrationError(f"{p}: {exc}") from None
    changes["calibration"] = str(p)
    return changes


def apply_profile(settings: Settings, path: str | Path) -> Settings:
    """``settings`` with the profile at ``path`` applied (see :func:`load_profile`)."""
    return settings.replace(**load_profile(path))


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def _ms(x: float | None) -> float | None:
    return None if x is None else round(float(x), 1)


def _s(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def _report_json(rp: Report, k: int) -> dict[str, Any]:
    al = rp.alignment
    d = rp.duration
    conc = rp.concentric
    return {
        "recording": rp.recording,
        "marks": rp.marks_path,
        "offset_s": _s(al.offset_s),
        "offset_method": al.method,
        "drift_ppm": round(al.drift_ppm, 1),
        "drift_fitted": al.drift_fitted,
        "drift_note": al.drift_note,
        "residual_ms": _ms(al.residual_ms),
        "candidates_tried": al.candidates_tried,
        "runner_up_offset_s": _s(al.runner_up_offset_s),
        "runner_up_matched": al.runner_up_matched,
        "runner_up_score": al.runner_up_score,
        "alignment_ambiguous": al.ambiguous,
        "matched": rp.matched,
        "missed": len(rp.missed),
        "extra": len(rp.extra),
        "bias_ms": _ms(d.bias_ms),
        "mae_ms": _ms(d.mae_ms),
        "loa_ms": None if d.loa_ms is None else [_ms(x) for x in d.loa_ms],
        "duration": d.to_json(),
        "start": rp.start.to_json(),
        "end": rp.end.to_json(),
        "concentric": conc.to_json() if conc.n else None,
        "failure_rep_agrees": rp.failure_rep_agrees,
        "failure_note": rp.failure_note,
        "failure_by_set": [
            {
                "session": k, "set": f.group, "sensor_set": f.sensor_set,
                "video_failure_rep": f.video_rep, "video_failure_reason": f.video_reason,
                "sensor_failure_rep": f.sensor_rep, "sensor_failure_reason": f.sensor_reason,
                "agrees": f.agrees,
            }
            for f in rp.failure
        ],
    }


def _per_rep_json(rp: Report, k: int) -> list[dict[str, Any]]:
    return [
        {
            "session": k, "set": e.group, "video_rep": e.video_rep,
            "sensor_set": e.sensor_set, "sensor_rep": e.sensor_rep,
            "video_start_s": _s(e.video_start_s), "video_end_s": _s(e.video_end_s),
            "sensor_start_s": _s(e.sensor_start_s), "sensor_end_s": _s(e.sensor_end_s),
            "video_duration_s": _s(e.video_duration_s), "sensor_duration_s": _s(e.sensor_duration_s),
            "start_error_ms": _ms(e.start_error_ms), "end_error_ms": _ms(e.end_error_ms),
            "duration_error_ms": _ms(e.duration_error_ms), "concentric_error_ms": _ms(e.concentric_error_ms),
            "notes": e.notes,
        }
        for e in rp.per_rep
    ]


def report_json(
    cal: Calibration, *, saved_to: str | None = None, plot: str | None = None
) -> dict[str, Any]:
    """The machine-readable report (``imu-tempo.calibration/1``; see docs/calibration.md).

    Top-level ``matched``/``missed``/``extra``/``bias_ms``/``mae_ms``/``loa_ms``/``per_rep``/
    ``failure_rep_agrees`` pool all sessions (before correction); ``offset_s`` and
    ``drift_ppm`` are numbers for one session and null for several (see ``sessions``).
    """
    one = len(cal.reports) == 1
    b = cal.before
    checks = [f for rp in cal.reports for f in rp.failure]
    cv = cal.cross_validation
    return {
        "schema": REPORT_SCHEMA,
        "settings": cal.settings.to_json(),
        "tolerance_s": cal.reports[0].alignment.tolerance_s,
        "offset_s": _s(cal.reports[0].alignment.offset_s) if one else None,
        "drift_ppm": round(cal.reports[0].alignment.drift_ppm, 1) if one else None,
        "matched": b.matched,
        "missed": b.missed,
        "extra": b.extra,
        "bias_ms": _ms(b.duration.bias_ms),
        "mae_ms": _ms(b.duration.mae_ms),
        "loa_ms": None if b.duration.loa_ms is None else [_ms(x) for x in b.duration.loa_ms],
        "start": b.start.to_json(),
        "end": b.end.to_json(),
        "failure_rep_agrees": None if not checks else all(f.agrees for f in checks),
        "per_rep": [x for k, rp in enumerate(cal.reports) for x in _per_rep_json(rp, k)],
        "missed_reps": [
            {"session": k, "set": g, "video_rep": m.rep, "video_start_s": _s(m.start_s),
             "video_end_s": _s(m.end_s), "line": m.line, "notes": m.notes}
            for k, rp in enumerate(cal.reports) for m, g in rp.missed
        ],
        "extra_reps": [
            {"session": k, "set": g, "sensor_set": r.set_index, "sensor_rep": r.index,
             "sensor_start_s": _s(r.start_s), "sensor_end_s": _s(r.end_s),
             "video_start_s": _s(rp.alignment.to_video_s(r.start_s))}
            for k, rp in enumerate(cal.reports) for r, g in rp.extra
        ],
        "sessions": [_report_json(rp, k) for k, rp in enumerate(cal.reports)],
        "correction": {
            "profile": cal.profile.to_json(),
            "before": cal.before.to_json(),
            "after": cal.after.to_json(),
            "cross_validation": None if cv is None else {
                "method": "leave one set out",
                "folds": [
                    {"session": f.session, "set": f.group, "profile": f.profile.to_json(),
                     "before": f.before.to_json(), "after": f.after.to_json()}
                    for f in cv.folds
                ],
                "before": cv.before.to_json(),
                "after": cv.after.to_json(),
            },
            "saved_to": saved_to,
        },
        "plot": plot,
    }


def _clock(t: float) -> str:
    """Seconds as m:ss.ss (how a video player shows time)."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    m, s = divmod(t, 60.0)
    if round(s, 2) >= 60.0:
        m, s = m + 1, 0.0
    return f"{sign}{int(m)}:{s:05.2f}"


def _pm(x: float | None, unit: str = " ms") -> str:
    return "n/a" if x is None else f"{x:+.0f}{unit}"


def _agreement_line(label: str, a: Agreement) -> str:
    if a.n == 0:
        return f"  {label:<10} no matched reps"
    loa = "n/a" if a.loa_ms is None else f"{a.loa_ms[0]:+.0f} to {a.loa_ms[1]:+.0f} ms"
    return f"  {label:<10} bias {_pm(a.bias_ms)}, typical error (MAE) {a.mae_ms:.0f} ms, 95% of reps within {loa}"


def _summary_line(s: Summary) -> str:
    d = s.duration
    loa = "n/a" if d.loa_ms is None else f"{d.loa_ms[0]:+.0f} to {d.loa_ms[1]:+.0f}"
    mae = "n/a" if d.mae_ms is None else f"{d.mae_ms:.0f}"
    fails = f", failure rep agrees in {s.failure_agree}/{s.failure_sets} sets" if s.failure_sets else ""
    return (
        f"duration bias {_pm(d.bias_ms)}, MAE {mae} ms, limits {loa} ms; "
        f"{s.matched} matched, {s.missed} missed, {s.extra} extra{fails}"
    )


def format_text(cal: Calibration, *, saved_to: str | None = None, plot: str | None = None) -> str:
    """The report for a coach: clock offset, rep counts, a per-rep table, the error, the correction."""
    out: list[str] = []
    for k, rp in enumerate(cal.reports):
        al = rp.alignment
        out.append(f"Recording {rp.recording}  vs  video marks {rp.marks_path}")
        how = "given (clap/tap sync)" if al.method == "given" else f"found automatically from {rp.matched} matching reps"
        out.append(f"  Clock: video time = sensor time {al.offset_s:+.3f} s ({_clock(al.offset_s)}), {how}")
        drift = f"{al.drift_ppm:+.0f} ppm, " if al.drift_fitted else ""
        out.append(f"  Clock drift: {drift}{al.drift_note}")
        if al.ambiguous:
            out.append(
                f"  WARNING: another offset ({al.runner_up_offset_s:+.3f} s) lines up {al.runner_up_matched} reps "
                "almost as well; check the table below, or give the offset with --offset-s"
            )
        out.append(
            f"  Reps: {rp.matched} matched, {len(rp.missed)} in the video but missed by the sensor, "
            f"{len(rp.extra)} found by the sensor but not in the video"
        )
        out.append("")
        out.append("   set  rep  video start   video s  sensor s   start ms    end ms  duration ms")
        rows: list[tuple[float, str]] = []
        for e in rp.per_rep:
            rows.append((e.video_start_s, (
                f"  {e.group:>4} {e.video_rep:>4}  {_clock(e.video_start_s):>11}  {e.video_duration_s:>8.2f}"
                f"  {e.sensor_duration_s:>8.2f}  {e.start_error_ms:>+9.0f} {e.end_error_ms:>+9.0f}"
                f"  {e.duration_error_ms:>+11.0f}"
            )))
        for m, g in rp.missed:
            rows.append((m.start_s, (
                f"  {g:>4} {m.rep:>4}  {_clock(m.start_s):>11}  {m.duration_s:>8.2f}  {'-':>8}  missed by the sensor"
            )))
        for r, g in rp.extra:
            t = al.to_video_s(r.start_s)
            rows.append((t, (
                f"  {g:>4} {'-':>4}  {_clock(t):>11}  {'-':>8}  {r.duration_s:>8.2f}  "
                f"sensor rep {r.set_index}.{r.index} not in the video"
            )))
        out.extend(row for _, row in sorted(rows, key=lambda x: x[0]))
        out.append("")
        out.append("  Error, sensor minus video:")
        out.append(_agreement_line("duration", rp.duration))
        if al.method == "auto":
            out.append(_agreement_line("start", rp.start) + " *")
            out.append(_agreement_line("end", rp.end) + " *")
        else:
            out.append(_agreement_line("start", rp.start))
            out.append(_agreement_line("end", rp.end))
        if rp.concentric.n:
            out.append(_agreement_line("concentric", rp.concentric))
        if rp.failure_note:
            out.append(f"  Tempo failure: {rp.failure_note}")
        for f in rp.failure:
            v = "no failure" if f.video_rep is None else f"rep {f.video_rep} ({f.video_reason})"
            s = "no failure" if f.sensor_rep is None else f"rep {f.sensor_rep} ({f.sensor_reason})"
            verdict = "AGREE" if f.agrees else "DISAGREE"
            out.append(f"  Tempo failure, set {f.group}: video {v}, sensor {s}: {verdict}")
        out.append("")
    if any(rp.alignment.method == "auto" for rp in cal.reports):
        out.append(
            "  * Without a clap sync, a delay shared by start and end looks like a clock offset, so start and end\n"
            "    errors are relative to each other; the duration error (what tempo depends on) is absolute."
        )
        out.append("")
    p = cal.profile
    det = "".join(f", {k} {v:g}" for k, v in p.detector)
    out.append(
        f"Correction: add {p.start_offset_s * 1e3:+.0f} ms to each rep start and {p.end_offset_s * 1e3:+.0f} ms "
        f"to each rep end{det}"
    )
    out.append(f"  before: {_summary_line(cal.before)}")
    out.append(f"  after:  {_summary_line(cal.after)}  (same reps it was fitted on)")
    cv = cal.cross_validation
    if cv is None:
        out.append(
            "  Not cross-validated: only one set. Check the profile on another set, or give several "
            "(imu-tempo calibrate s1.csv:m1.csv s2.csv:m2.csv)."
        )
    else:
        b, a = cv.before, cv.after
        out.append(f"  Cross-validated (each of {len(cv.folds)} sets judged by a profile fitted on the others):")
        out.append(f"    before: {_summary_line(b)}")
        out.append(f"    after:  {_summary_line(a)}")
        worse = []
        if b.duration.mae_ms is not None and a.duration.mae_ms is not None and a.duration.mae_ms > b.duration.mae_ms:
            worse.append("rep timing")
        if a.missed + a.extra > b.missed + b.extra:
            worse.append("missed and extra reps")
        if worse:
            out.append(
                f"    The correction makes {' and '.join(worse)} worse on sets it was not fitted on: "
                "do not rely on this profile (mark more sets, or keep the defaults)."
            )
    if saved_to:
        out.append(f"Saved the profile to {saved_to}. Use it with: imu-tempo analyze REC.csv --calibration {saved_to}")
    if plot:
        out.append(f"Plot written to {plot}")
    return "\n".join(out)


def _require_matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise CalibrationError(
            "--plot needs matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'imu-tempo[plot]')"
        ) from None
    del matplotlib
    return Figure


def plot_calibration(cal: Calibration, path: str | Path) -> Path:
    """Bland-Altman plot of rep durations and a timeline of both rep series, as an image file.

    Raises CalibrationError when matplotlib is missing or the file cannot be written.
    """
    figure_cls = _require_matplotlib()
    n = len(cal.reports)
    fig = figure_cls(figsize=(10, 4 + 1.6 * n), layout="constrained")
    axes = fig.subplots(1 + n, 1, height_ratios=[3] + [1] * n, squeeze=False)[:, 0]
    ax = axes[0]
    for k, rp in enumerate(cal.reports):
        mean = [(e.video_duration_s + e.sensor_duration_s) / 2 for e in rp.per_rep]
        diff = [e.duration_error_ms for e in rp.per_rep]
        ax.scatter(mean, diff, s=18, label=Path(rp.recording).name if n > 1 else None)
    d = cal.before.duration
    if d.bias_ms is not None:
        ax.axhline(d.bias_ms, color="k", lw=1, label=f"bias {d.bias_ms:+.0f} ms")
    if d.loa_ms is not None:
        for y in d.loa_ms:
            ax.axhline(y, color="k", lw=1, ls="--")
        ax.plot([], [], color="k", ls="--", label=f"95% limits {d.loa_ms[0]:+.0f} / {d.loa_ms[1]:+.0f} ms")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("mean of video and sensor rep duration (s)")
    ax.set_ylabel("sensor - video duration (ms)")
    ax.set_title("Rep duration: sensor vs video (Bland-Altman)")
    ax.legend(loc="best", fontsize=8)
    for k, rp in enumerate(cal.reports):
        ax = axes[1 + k]

        def bars(spans: list[tuple[float, float]], y: float, color: str, label: str | None) -> None:
            if spans:
                ax.broken_barh([(a, b - a) for a, b in spans], (y - 0.3, 0.6), facecolors=color,
                               edgecolors="white", linewidth=0.8, label=label)

        bars([(e.video_start_s, e.video_end_s) for e in rp.per_rep], 1, "tab:blue", "video rep")
        bars([(e.sensor_start_s, e.sensor_end_s) for e in rp.per_rep], 0, "tab:orange", "sensor rep")
        bars([(m.start_s, m.end_s) for m, _ in rp.missed], 1, "tab:red", "missed / extra")
        bars([(rp.alignment.to_video_s(r.start_s), rp.alignment.to_video_s(r.end_s)) for r, _ in rp.extra],
             0, "tab:red", None if rp.missed else "missed / extra")
        ax.set_yticks([0, 1], ["sensor", "video"])
        ax.set_ylim(-0.7, 1.7)
        ax.set_xlabel("video time (s)")
        ax.set_title(f"{Path(rp.recording).name}: reps on the video's clock", fontsize=9)
        ax.legend(loc="upper right", fontsize=7, ncols=3)
    p = Path(path)
    try:
        fig.savefig(p, dpi=110)
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{p}: cannot write the plot: {exc}") from None
    return p


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``imu-tempo calibrate`` flags (plus the shared analysis flags from the CLI)."""
    parser.add_argument(
        "inputs", nargs="+", metavar="RECORDING[:MARKS]",
        help="a recording (with --video-marks), or one or more recording:marks pairs",
    )
    parser.add_argument("--video-marks", metavar="MARKS.csv", help="video marks of the recording: rep,start_s,end_s")
    parser.add_argument("--fps", type=float, help="frame rate of the video, when the marks are frame numbers")
    parser.add_argument(
        "--offset-s", type=float,
        help="video time minus sensor time, when known from a clap or tap (default: found automatically)",
    )
    parser.add_argument("--save", metavar="PROFILE.toml", help="save the fitted calibration profile")
    parser.add_argument("--json", action="store_true", help="print the machine-readable report")
    parser.add_argument("--plot", metavar="FILE.png", help="write a Bland-Altman plot and a timeline (needs matplotlib)")
    from .cli import add_analysis_arguments

    add_analysis_arguments(parser)


def _split_inputs(inputs: Sequence[str], video_marks: str | None) -> list[tuple[str, str]]:
    if video_marks is not None:
        if len(inputs) != 1:
            raise CalibrationError(
                "--video-marks goes with one recording; for several, pair each with its marks: rec1.csv:marks1.csv rec2.csv:marks2.csv"
            )
        return [(inputs[0], video_marks)]
    pairs = []
    for item in inputs:
        rec, sep, marks = item.rpartition(":")
        if not sep or not rec or not marks or (len(rec) == 1 and rec.isalpha()):
            raise CalibrationError(
                f"{item}: no video marks for this recording; use --video-marks MARKS.csv or write RECORDING.csv:MARKS.csv"
            )
        pairs.append((rec, marks))
    return pairs


def _engine_detector(path: str, accel_unit: str, gyro_unit: str, gyro_axes: str | None = None,
                     time_unit: str | None = None) -> Callable[[Settings], Sequence[Rep]]:
    def detect(settings: Settings) -> Sequence[Rep]:
        from .analysis import analyze_recording

        return reps_from_analysis(
            analyze_recording(path, settings=settings, accel_unit=accel_unit, gyro_unit=gyro_unit, gyro_axes=gyro_axes,
                              time_unit=time_unit),
            source=path,
        )

    return detect


def run(args: argparse.Namespace) -> int:
    """Run ``imu-tempo calibrate``: print the report (text or ``--json``), save/plot on request."""
    pairs = _split_inputs(args.inputs, args.video_marks)
    if args.offset_s is not None and len(pairs) > 1:
        raise CalibrationError("--offset-s is for one recording; with several, leave it out (each is aligned on its own)")
    if args.plot:
        _require_matplotlib()  # fail before the work, not after
    settings = getattr(args, "settings", None)
    if settings is None:
        from .cli import settings_from_args

        settings = settings_from_args(args)
    accel_unit = getattr(args, "accel_unit", None) or "m/s^2"
    gyro_unit = getattr(args, "gyro_unit", None) or "rad/s"
    sessions = []
    for rec, marks_path in pairs:
        if not Path(rec).is_file():
            raise CalibrationError(f"{rec}: recording not found")
        sessions.append(
            MarkedSession(
                recording=rec, marks_path=marks_path, marks=parse_marks(marks_path, fps=args.fps),
                detect=_engine_detector(rec, accel_unit, gyro_unit, getattr(args, "gyro_axes", None),
                                        getattr(args, "time_unit", None)),
                offset_s=args.offset_s,
            )
        )
    cal = calibrate(sessions, settings=settings)
    saved = None
    if args.save:
        saved = str(save_profile(cal.profile, args.save, provenance=profile_provenance(cal)))
    plot = str(plot_calibration(cal, args.plot)) if args.plot else None
    if args.json:
        sys.stdout.write(json.dumps(report_json(cal, saved_to=saved, plot=plot), indent=2) + "\n")
    else:
        sys.stdout.write(format_text(cal, saved_to=saved, plot=plot) + "\n")
    return 0


def profile_provenance(cal: Calibration) -> dict[str, Any]:
    """What a saved profile was fitted on and how well it did (the ``[fit]`` table)."""
    try:
        from importlib.metadata import version

        ver = version("imu-tempo")
    except Exception:  # pragma: no cover
        ver = "unknown"
    cv = cal.cross_validation
    return {
        "made_by": f"imu-tempo {ver}",
        "recordings": [rp.recording for rp in cal.reports],
        "marks": [rp.marks_path for rp in cal.reports],
        "matched": cal.before.matched,
        "before_mae_ms": _ms(cal.before.duration.mae_ms),
        "after_mae_ms": _ms(cal.after.duration.mae_ms),
        "before_bias_ms": _ms(cal.before.duration.bias_ms),
        "after_bias_ms": _ms(cal.after.duration.bias_ms),
        "cross_validated_before_mae_ms": None if cv is None else _ms(cv.before.duration.mae_ms),
        "cross_validated_after_mae_ms": None if cv is None else _ms(cv.after.duration.mae_ms),
        "measure": cal.settings.measure,
    }


__all__ = [
    "Agreement", "Alignment", "Calibration", "CrossValidation", "FailureCheck", "Fold", "MarkedSession",
    "Profile", "Report", "RepError", "Summary", "VideoMark",
    "add_arguments", "align", "apply_offsets", "apply_profile", "calibrate", "compare", "cross_validate",
    "fit_profile", "format_text", "load_profile", "parse_marks", "plot_calibration", "profile_provenance",
    "report_json", "reps_from_analysis", "run", "save_profile", "summarize", "video_sets",
]
