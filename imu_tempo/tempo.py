"""Tempo rules: when is a rep a tempo failure?

A rep's *measure* (its whole duration, or its concentric phase) fails

* ``absolute`` when it exceeds ``threshold_s`` (1.2 s by default), or
* ``trend`` when it exceeds the set's reference by ``slowdown`` (0.25 by
  default, about a 20 % velocity loss).  The reference is the set's fastest
  reps so far, robust to one outlier: the *second-smallest* measure among the
  previous reps of the set, so it needs at least two previous reps.

``absolute`` wins when both apply.  A rep within ``warning_margin`` (5 %) of
either limit, but not over it, is a warning.  The failure cue fires after
``confirm`` failing reps in a row; the set's first failing rep is the first of
that run.

Everything here is pure or a small object with explicit state, so the same
rule scores the simulator's truth, the engine's reps and the calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .types import FailureReason


@dataclass(frozen=True, slots=True)
class Judgement:
    failure: FailureReason | None
    warning: bool
    warning_limit: FailureReason | None
    reference_s: float | None
    slowdown: float | None  # measure / reference - 1


def reference(previous: Sequence[float]) -> float | None:
    """The set reference: second-smallest previous measure (None with fewer than two)."""
    if len(previous) < 2:
        return None
    return sorted(previous)[1]


def judge(
    measure_s: float | None,
    previous: Sequence[float],
    *,
    threshold_s: float,
    slowdown: float,
    warning_margin: float,
) -> Judgement:
    """Judge one rep against the absolute limit and the set's trend.

    Parameters
    ----------
    measure_s : float or None
        The rep's measure in seconds (None when it could not be measured, e.g. no
        concentric phase found): never fails, never warns.
    previous : sequence of float
        Measures of the earlier reps of the same set, in order.
    """
    ref = reference(previous)
    if measure_s is None:
        return Judgement(None, False, None, ref, None)
    trend_limit = None if ref is None else ref * (1.0 + slowdown)
    ratio = None if ref is None else measure_s / ref - 1.0
    failure: FailureReason | None = None
    if measure_s > threshold_s:
        failure = "absolute"
    elif trend_limit is not None and measure_s > trend_limit:
        failure = "trend"
    warning_limit: FailureReason | None = None
    if failure is None:
        if measure_s >= threshold_s * (1.0 - warning_margin):
            warning_limit = "absolute"
        elif trend_limit is not None and measure_s >= trend_limit * (1.0 - warning_margin):
            warning_limit = "trend"
    return Judgement(failure, warning_limit is not None, warning_limit, ref, ratio)


class SetTempo:
    """Judges the reps of one set in order and tracks the confirmed failure."""

    def __init__(self, *, threshold_s: float, slowdown: float, warning_margin: float, confirm: int) -> None:
        self.threshold_s = threshold_s
        self.slowdown = slowdown
        self.warning_margin = warning_margin
        self.confirm = confirm
        self.measures: list[float] = []
        self._run: list[tuple[int, FailureReason]] = []  # current run of failing reps (index, reason)
        self.first_failure: tuple[int, FailureReason] | None = None

    def add(self, rep_index: int, measure_s: float | None) -> tuple[Judgement, bool]:
        """Judge rep ``rep_index``; returns the judgement and whether it confirms the failure now."""
        j = judge(
            measure_s,
            self.measures,
            threshold_s=self.threshold_s,
            slowdown=self.slowdown,
            warning_margin=self.warning_margin,
        )
        if measure_s is not None:
            self.measures.append(measure_s)
        confirmed_now = False
        if j.failure is not None:
            self._run.append((rep_index, j.failure))
            if self.first_failure is None and len(self._run) >= self.confirm:
                self.first_failure = self._run[0]
                confirmed_now = True
        else:
            self._run.clear()
        return j, confirmed_now


def first_failure(
    measures: Sequence[float | None],
    *,
    threshold_s: float = 1.2,
    slowdown: float = 0.25,
    confirm: int = 1,
    warning_margin: float = 0.05,
) -> tuple[int, FailureReason] | None:
    """The set's first failing rep (1-based) and its reason, or None: the rule applied to a list."""
    st = SetTempo(threshold_s=threshold_s, slowdown=slowdown, warning_margin=warning_margin, confirm=confirm)
    for i, m in enumerate(measures, start=1):
        st.add(i, m)
        if st.first_failure is not None:
            return st.first_failure
    return None
