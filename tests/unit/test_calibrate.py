"""Calibration against video marks: parsing, clock alignment, comparison, profiles.

The sessions here are simulated with known truth: rep times are drawn, the sensor's
reps get known start/end biases and noise, and the video marks get a random clock
offset (up to 10 minutes), human marking noise, 30 fps quantisation, a missing and an
extra rep.  No engine is involved: these test the pure functions.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, replace

import numpy as np
import pytest

from imu_tempo.calibrate import (
    OFFSET_BOUNDS_S,
    PROFILE_SCHEMA,
    REPORT_SCHEMA,
    Agreement,
    MarkedSession,
    Profile,
    VideoMark,
    align,
    apply_profile,
    calibrate,
    compare,
    cross_validate,
    fit_profile,
    format_text,
    load_profile,
    parse_marks,
    plot_calibration,
    report_json,
    reps_from_analysis,
    save_profile,
    video_sets,
)
from imu_tempo.errors import CalibrationError
from imu_tempo.settings import Settings
from imu_tempo.types import Rep

FPS = 30.0
FRAME_S = 1.0 / FPS


# ----------------------------------------------------------------------------------------------
# Simulated sessions with known truth
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruthRep:
    set: int
    rep: int
    start_s: float
    end_s: float
    rom_m: float = 0.3


def truth_session(rng: np.random.Generator, *, sets: int = 3, reps: int = 8, rest_s: float = 90.0,
                  t0_s: float = 5.0) -> list[TruthRep]:
    """Reps that slow down through each set (0.9 s to about 1.6 s), with short pauses between."""
    out: list[TruthRep] = []
    t = t0_s
    for s in range(1, sets + 1):
        for k in range(1, reps + 1):
            dur = 0.9 + 0.7 * (k - 1) / max(1, reps - 1) + rng.normal(0, 0.05)
            out.append(TruthRep(s, k, t, t + dur))
            t += dur + rng.uniform(0.4, 0.9)
        t += rest_s
    return out


def sensor_reps(truth: list[TruthRep], rng: np.random.Generator, *, start_bias_s: float = 0.0,
                end_bias_s: float = 0.0, noise_s: float = 0.0, drop: tuple[int, ...] = (),
                drift_ppm: float = 0.0) -> list[Rep]:
    """What a detector with known errors reports, on a sensor clock that runs slow by drift_ppm."""
    k = 1.0 / (1.0 + drift_ppm * 1e-6)
    reps = []
    for n, t in enumerate(truth):
        if n in drop:
            continue
        a = (t.start_s + start_bias_s + rng.normal(0, noise_s)) * k
        b = (t.end_s + end_bias_s + rng.normal(0, noise_s)) * k
        reps.append(Rep(index=t.rep, set_index=t.set, start_s=a, end_s=b, concentric_s=None, detected_at_s=b))
    return reps


def video_marks(truth: list[TruthRep], rng: np.random.Generator, *, offset_s: float, noise_s: float = 0.04,
                drop: tuple[int, ...] = (), extra_at: tuple[float, ...] = (), fps: float = FPS) -> list[VideoMark]:
    """Marks on the video clock: offset, human noise, quantised to frames; some dropped, some invented."""
    def q(x: float) -> float:
        return round(x * fps) / fps

    marks = [
        VideoMark(rep=t.rep, start_s=q(t.start_s + offset_s + rng.normal(0, noise_s)),
                  end_s=q(t.end_s + offset_s + rng.normal(0, noise_s)))
        for n, t in enumerate(truth) if n not in drop
    ]
    for x in extra_at:
        marks.append(VideoMark(rep=99, start_s=q(x + offset_s), end_s=q(x + offset_s + 1.1), notes="invented"))
    return sorted(marks, key=lambda m: m.start_s)


def scenario(seed: int, **kw):
    """Truth, sensor reps and marks: one rep missing from the video, one invented in a rest."""
    rng = np.random.default_rng(seed)
    offset = float(rng.uniform(-600, 600))
    truth = truth_session(rng)
    sens = sensor_reps(truth, rng, start_bias_s=kw.get("start_bias_s", 0.05), end_bias_s=kw.get("end_bias_s", -0.05),
                       noise_s=kw.get("sensor_noise_s", 0.03), drift_ppm=kw.get("drift_ppm", 0.0),
                       drop=kw.get("sensor_drop", ()))
    drop_mark = int(rng.integers(1, len(truth) - 1))
    rest = truth[7].end_s + 30.0  # in the rest after set 1
    marks = video_marks(truth, rng, offset_s=offset, drop=(drop_mark,), extra_at=(rest,))
    return truth, sens, marks, offset, drop_mark


def truth_of(rep: Rep, truth: list[TruthRep]) -> int:
    return next(n for n, t in enumerate(truth) if (t.set, t.rep) == (rep.set_index, rep.index))


def mark_truth(mark: VideoMark, truth: list[TruthRep], offset: float) -> int | None:
    if mark.notes == "invented":
        return None
    return int(np.argmin([abs(t.start_s + offset - mark.start_s) for t in truth]))


# ----------------------------------------------------------------------------------------------
# parse_marks
# ----------------------------------------------------------------------------------------------


class TestParseMarks:
    def test_seconds_with_optional_columns_kept(self, tmp_path):
        f = tmp_path / "m.csv"
        f.write_text("rep,start_s,end_s,concentric_end_s,notes,camera\n2,12.5,13.9,13.2,grinder,side\n1,10.0,11.2,,,front\n")
        marks = parse_marks(f, fps=None)
        assert [m.rep for m in marks] == [1, 2]  # sorted by start
        m = marks[1]
        assert (m.start_s, m.end_s, m.concentric_end_s, m.notes) == (12.5, 13.9, 13.2, "grinder")
        assert m.concentric_s == pytest.approx(0.7)
        assert m.extra == (("camera", "side"),)
        assert m.line == 2
        assert marks[0].concentric_end_s is None and marks[0].notes is None

    def test_frames_converted_with_fps(self, tmp_path):
        f = tmp_path / "m.csv"
        f.write_text("rep,start_frame,end_frame\n1,300,345\n2,400,460\n")
        marks = parse_marks(f, fps=29.97)
        assert marks[0].start_s == pytest.approx(300 / 29.97)
        assert marks[1].end_s == pytest.approx(460 / 29.97)

    def test_frames_without_fps_is_a_clear_error(self, tmp_path):
        f = tmp_path / "m.csv"
        f.write_text("rep,start_frame,end_frame\n1,300,345\n")
        with pytest.raises(CalibrationError, match=r"m\.csv.*frame numbers.*--fps"):
            parse_marks(f, fps=None)

    def test_clock_times_semicolons_bom_and_comments(self, tmp_path):
        f = tmp_path / "m.csv"
        f.write_bytes("\ufeff# marked by hand\nRep;Start_s;End_s\n\n1;1:02.50;1:03.75\n2;0:01:05.00;65.9\n".encode())
        marks = parse_marks(f, fps=None)
        assert [(m.start_s, m.end_s) for m in marks] == [(62.5, 63.75), (65.0, 65.9)]
        assert marks[0].line == 4

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("rep,start_s,end_s\n1,10,11\n2,abc,13\n", r"m\.csv:3: start_s must be a time"),
            ("rep,start_s,end_s\n1,10,11\n2,14,13\n", r"m\.csv:3: rep 2 ends .* before .* starts"),
            ("rep,start_s,end_s\nx,10,11\n", r"m\.csv:2: rep must be a whole number"),
            ("rep,begin,finish\n1,10,11\n", r"m\.csv:1: expected columns rep,start_s,end_s.*found: rep, begin, finish"),
            ("start_s,end_s\n10,11\n", r"no 'rep' column"),
            ("rep,start_s,end_s\n", r"no reps"),
            ("", r"empty"),
            ("rep,start_s,end_s\n1,10,11,12\n", r"m\.csv:2: 4 values but the header has 3"),
            ("rep,start_s,end_s,concentric_end_s\n1,10,11,12\n", r"m\.csv:2: .*concentric_end .* outside the rep"),
            ("rep,start_s,end_s\n1,-3,11\n", r"negative time"),
        ],
    )
    def test_bad_marks_name_file_and_line(self, tmp_path, body, message):
        f = tmp_path / "m.csv"
        f.write_text(body)
        with pytest.raises(CalibrationError, match=message):
            parse_marks(f, fps=None)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CalibrationError, match="not found"):
            parse_marks(tmp_path / "nope.csv", fps=None)

    @pytest.mark.parametrize("fps", [0.0, -30.0, math.nan])
    def test_bad_fps(self, tmp_path, fps):
        f = tmp_path / "m.csv"
        f.write_text("rep,start_frame,end_frame\n1,300,345\n")
        with pytest.raises(CalibrationError, match="--fps must be a positive number"):
            parse_marks(f, fps=fps)


class TestVideoSets:
    def test_rests_split_sets(self):
        marks = [VideoMark(1, 0, 1), VideoMark(2, 1.5, 2.5), VideoMark(1, 60, 61), VideoMark(2, 62, 63)]
        assert video_sets(marks, set_rest_s=8.0) == (1, 1, 2, 2)

    def test_set_column_wins(self):
        marks = [VideoMark(1, 0, 1, set_index=3), VideoMark(2, 100, 101, set_index=3)]
        assert video_sets(marks, set_rest_s=8.0) == (3, 3)


# ----------------------------------------------------------------------------------------------
# align
# ----------------------------------------------------------------------------------------------


class TestAlign:
    @pytest.mark.parametrize("seed", range(12))
    def test_recovers_offset_and_matches_with_missing_and_extra(self, seed):
        truth, sens, marks, offset, dropped = scenario(seed)
        al = align(sens, marks)
        # Start and end biases are equal and opposite here, so the offset itself is recoverable.
        assert abs(al.offset_s - offset) < FRAME_S
        assert al.method == "auto" and not al.drift_fitted and al.drift_ppm == 0.0
        # Every pair is the same true rep on both sides.
        for i, j in al.pairs:
            assert mark_truth(marks[j], truth, offset) == truth_of(sens[i], truth)
        assert len(al.pairs) == len(truth) - 1
        assert [marks[j].notes for j in al.missed] == ["invented"]  # the video's extra rep
        assert [truth_of(sens[i], truth) for i in al.extra] == [dropped]  # the rep the video left out
        assert not al.ambiguous

    @pytest.mark.parametrize("seed", range(4))
    def test_missing_and_extra_on_both_sides_at_the_edges(self, seed):
        rng = np.random.default_rng(100 + seed)
        truth = truth_session(rng, sets=2)
        offset = float(rng.uniform(-600, 600))
        sens = sensor_reps(truth, rng, noise_s=0.03, drop=(len(truth) - 1, 9))  # sensor misses two reps
        marks = video_marks(truth, rng, offset_s=offset, drop=(0, 3), extra_at=(truth[-1].end_s + 5.0,))
        al = align(sens, marks)
        assert abs(al.offset_s - offset) < FRAME_S
        assert len(al.pairs) == len(truth) - 4
        assert sorted(truth_of(sens[i], truth) for i in al.extra) == [0, 3]
        assert sorted(mark_truth(marks[j], truth, offset) or -1 for j in al.missed) == [-1, 9, len(truth) - 1]

    def test_evenly_paced_set_is_not_shifted_by_one_rep(self):
        reps = [Rep(k, 1, 2.0 * k, 2.0 * k + 1.2, None, 2.0 * k + 1.2) for k in range(1, 9)]
        marks = [VideoMark(k, 2.0 * k + 333.3, 2.0 * k + 334.5) for k in range(2, 9)]  # first rep not filmed
        al = align(reps, marks)
        assert al.offset_s == pytest.approx(333.3, abs=1e-6)
        assert al.extra == (0,)

    def test_ambiguous_when_a_neighbour_pairing_fits_as_well(self):
        # Continuous 1 s swings; the sensor misses the first and last two and lags more and more:
        # pairing each sensor rep with the next video rep fits about as well as the right pairing.
        marks = [VideoMark(k, 200.0 + k, 201.0 + k) for k in range(1, 13)]
        lag = np.linspace(0.0, 0.3, 8)
        reps = [Rep(k, 1, k + lag[n], k + 1 + lag[n], None, k + 1) for n, k in enumerate(range(3, 11))]
        al = align(reps, marks)
        assert al.ambiguous and al.runner_up_score >= 0.85
        truth = compare(reps, marks, al, settings=Settings())
        assert "WARNING: another offset" in format_text(
            calibrate([marked("r", None, marks, fixed(reps))], settings=Settings(), tune_detector=False)
        )
        assert truth.matched == 8

    def test_drift_is_estimated_over_a_long_session(self):
        rng = np.random.default_rng(7)
        truth = truth_session(rng, sets=4, rest_s=180.0)  # about 12 minutes
        offset = 432.1
        sens = sensor_reps(truth, rng, noise_s=0.02, drift_ppm=1000.0)  # 29.97 fps read as 30 fps
        marks = video_marks(truth, rng, offset_s=offset, noise_s=0.03)
        al = align(sens, marks)
        assert al.drift_fitted
        assert al.drift_ppm == pytest.approx(1000.0, abs=150.0)
        assert abs(al.offset_s - offset) < FRAME_S
        assert len(al.pairs) == len(truth)

    def test_no_drift_claimed_over_a_short_session(self):
        rng = np.random.default_rng(8)
        truth = truth_session(rng, sets=1)
        al = align(sensor_reps(truth, rng, noise_s=0.03), video_marks(truth, rng, offset_s=50.0))
        assert not al.drift_fitted and al.drift_ppm == 0.0
        assert "span only" in al.drift_note

    def test_given_offset_is_used(self):
        truth, sens, marks, offset, _ = scenario(3)
        al = align(sens, marks, offset_s=offset + 0.01)
        assert al.method == "given" and al.offset_s == offset + 0.01 and al.candidates_tried == 0
        assert len(al.pairs) == len(truth) - 1

    def test_wrong_given_offset_says_what_to_check(self):
        _, sens, marks, offset, _ = scenario(3)
        with pytest.raises(CalibrationError, match=r"given offset .*only \d+ of .*--offset-s"):
            align(sens, marks, offset_s=-offset)

    def test_unrelated_marks_say_what_was_tried(self):
        rng = np.random.default_rng(9)
        sens = sensor_reps(truth_session(rng, sets=1), rng)
        other = [VideoMark(k, 100.0 + 7.3 * k, 100.0 + 7.3 * k + 3.1) for k in range(1, 6)]  # nothing alike
        with pytest.raises(CalibrationError, match=r"tried the offsets of all \d+ pairings .* from .* to .*only \d of 5 .*--offset-s"):
            align(sens, other)

    def test_fewer_than_three_reps_is_an_error(self):
        reps = [Rep(1, 1, 1.0, 2.0, None, 2.0), Rep(2, 1, 3.0, 4.2, None, 4.2)]
        marks = [VideoMark(1, 11.0, 12.0), VideoMark(2, 13.0, 14.2)]
        with pytest.raises(CalibrationError, match="3 are needed"):
            align(reps, marks)

    def test_empty_inputs(self):
        with pytest.raises(CalibrationError, match="no reps"):
            align([], [VideoMark(1, 1, 2)])
        with pytest.raises(CalibrationError, match="no reps"):
            align([Rep(1, 1, 1, 2, None, 2)], [])


# ----------------------------------------------------------------------------------------------
# compare
# ----------------------------------------------------------------------------------------------


class TestCompare:
    def test_errors_of_one_rep_by_hand(self):
        reps = [Rep(k, 1, 2.0 * k, 2.0 * k + 1.0, 0.4, 2.0 * k + 1.0) for k in range(1, 5)]
        marks = [VideoMark(k, 2.0 * k + 10.0, 2.0 * k + 11.0, concentric_end_s=2.0 * k + 10.5) for k in range(1, 5)]
        marks[1] = replace(marks[1], start_s=marks[1].start_s - 0.05, end_s=marks[1].end_s + 0.1)
        rp = compare(reps, marks, align(reps, marks, offset_s=10.0), settings=Settings())
        e = rp.per_rep[1]
        assert (e.video_rep, e.sensor_set, e.sensor_rep) == (2, 1, 2)
        assert e.start_error_ms == pytest.approx(50.0)
        assert e.end_error_ms == pytest.approx(-100.0)
        assert e.duration_error_ms == pytest.approx(-150.0)
        assert e.concentric_error_ms == pytest.approx((0.4 - 0.55) * 1e3)
        assert rp.duration.bias_ms == pytest.approx(-37.5)
        assert rp.duration.mae_ms == pytest.approx(37.5)

    def test_bias_and_limits_match_the_injected_errors(self):
        rng = np.random.default_rng(11)
        truth = truth_session(rng, sets=6, reps=10, rest_s=60.0)
        b_s, b_e, sn, hn = 0.08, -0.03, 0.03, 0.04
        sens = sensor_reps(truth, rng, start_bias_s=b_s, end_bias_s=b_e, noise_s=sn)
        offset = 321.0
        marks = video_marks(truth, rng, offset_s=offset, noise_s=hn)
        # Duration error = (end - start) errors: sensor and human noise on both ends, plus quantisation.
        sd = math.sqrt(2 * sn**2 + 2 * hn**2 + 2 * FRAME_S**2 / 12) * 1e3
        n = len(truth)
        for al in (align(sens, marks), align(sens, marks, offset_s=offset)):
            rp = compare(sens, marks, al, settings=Settings())
            d = rp.duration
            assert d.n == n
            assert d.bias_ms == pytest.approx((b_e - b_s) * 1e3, abs=3 * sd / math.sqrt(n))
            assert d.sd_ms == pytest.approx(sd, rel=0.25)
            assert d.loa_ms == pytest.approx((d.bias_ms - 1.96 * d.sd_ms, d.bias_ms + 1.96 * d.sd_ms))
        # With a known clock, start and end biases are absolute; found automatically, only relative.
        given = compare(sens, marks, align(sens, marks, offset_s=offset), settings=Settings())
        assert given.start.bias_ms == pytest.approx(b_s * 1e3, abs=15)
        assert given.end.bias_ms == pytest.approx(b_e * 1e3, abs=15)
        auto = compare(sens, marks, align(sens, marks), settings=Settings())
        assert auto.start.bias_ms == pytest.approx((b_s - b_e) / 2 * 1e3, abs=15)
        assert auto.start.bias_ms == pytest.approx(-auto.end.bias_ms, abs=1.0)

    @staticmethod
    def _set(durations, *, t0=0.0):
        t, out = t0, []
        for d in durations:
            out.append((t, t + d))
            t += d + 0.5
        return out

    def test_failure_rep_agreement(self):
        video = [0.8, 0.85, 0.9, 0.95, 1.0, 1.25, 1.3]  # fails at rep 6 (over 1.2 s)
        spans = self._set(video)
        marks = [VideoMark(k, a + 100, b + 100) for k, (a, b) in enumerate(spans, start=1)]
        rule = Settings(slowdown=1.0)  # only the absolute limit, to keep the arithmetic obvious
        same = [Rep(k, 1, a, b - 0.02, None, b) for k, (a, b) in enumerate(spans, start=1)]
        rp = compare(same, marks, align(same, marks), settings=rule)
        (f,) = rp.failure
        assert (f.video_rep, f.video_reason, f.sensor_rep, f.agrees) == (6, "absolute", 6, True)
        assert rp.failure_rep_agrees is True
        short = [Rep(k, 1, a, b - 0.08, None, b) for k, (a, b) in enumerate(spans, start=1)]  # rep 6: 1.17 s
        rp = compare(short, marks, align(short, marks), settings=rule)
        (f,) = rp.failure
        assert (f.video_rep, f.sensor_rep, f.agrees) == (6, 7, False) and rp.failure_rep_agrees is False
        # The trend rule counts too: with the default slowdown the sensor's rep 6 is 50 % over its reference.
        rp = compare(short, marks, align(short, marks), settings=Settings())
        (f,) = rp.failure
        assert (f.video_rep, f.sensor_rep, f.sensor_reason, f.agrees) == (6, 6, "trend", True)

    def test_concentric_measure_without_concentric_marks_is_not_checked(self):
        marks = [VideoMark(k, a + 100, b + 100) for k, (a, b) in enumerate(self._set([1.0] * 5), start=1)]
        reps = [Rep(k, 1, a, b, 0.5, b) for k, (a, b) in enumerate(self._set([1.0] * 5), start=1)]
        rp = compare(reps, marks, align(reps, marks), settings=Settings(measure="concentric"))
        assert rp.failure == () and rp.failure_rep_agrees is None and "concentric_end_s" in rp.failure_note


class TestAgreement:
    def test_bland_altman(self):
        a = Agreement.of([10.0, -10.0, 30.0, 10.0])
        assert a.bias_ms == 10.0 and a.mae_ms == 15.0
        sd = float(np.std([10, -10, 30, 10], ddof=1))
        assert a.loa_ms == pytest.approx((10 - 1.96 * sd, 10 + 1.96 * sd))

    def test_empty_and_single(self):
        assert Agreement.of([]).bias_ms is None
        assert Agreement.of([5.0]).loa_ms is None


# ----------------------------------------------------------------------------------------------
# Profiles
# ----------------------------------------------------------------------------------------------


def marked(name: str, truth, marks, detect, offset_s=None) -> MarkedSession:
    return MarkedSession(recording=name, marks_path=name + ".marks.csv", marks=tuple(marks), detect=detect,
                         offset_s=offset_s)


def fixed(reps):
    """A detector whose reps do not depend on the settings."""
    return lambda settings: reps


def biased_sessions(n: int, *, start_bias_s: float, end_bias_s: float, seed: int = 0, sets: int = 1):
    out = []
    for k in range(n):
        rng = np.random.default_rng(seed + k)
        truth = truth_session(rng, sets=sets, reps=10)
        off = float(rng.uniform(0, 600))
        sens = sensor_reps(truth, rng, start_bias_s=start_bias_s, end_bias_s=end_bias_s, noise_s=0.02)
        marks = video_marks(truth, rng, offset_s=off, noise_s=0.03)
        out.append((f"s{k}", truth, marks, sens, off))
    return out


class TestFitProfile:
    def test_offsets_remove_known_biases_with_a_clap_sync(self):
        sessions = [marked(n, t, m, fixed(s), offset_s=o)
                    for n, t, m, s, o in biased_sessions(2, start_bias_s=0.12, end_bias_s=-0.06)]
        p = fit_profile(sessions, settings=Settings(), tune_detector=False)
        assert p.start_offset_s == pytest.approx(-0.12, abs=0.02)
        assert p.end_offset_s == pytest.approx(0.06, abs=0.02)
        assert p.detector == ()

    def test_auto_alignment_corrects_the_duration(self):
        sessions = [marked(n, t, m, fixed(s)) for n, t, m, s, _ in biased_sessions(2, start_bias_s=0.12, end_bias_s=-0.06)]
        p = fit_profile(sessions, settings=Settings(), tune_detector=False)
        assert p.end_offset_s - p.start_offset_s == pytest.approx(0.18, abs=0.02)
        assert p.start_offset_s == pytest.approx(-p.end_offset_s, abs=0.002)  # symmetric: clock absorbs the rest

    def test_corrections_are_bounded(self):
        sessions = [marked(n, t, m, fixed(s), offset_s=o)
                    for n, t, m, s, o in biased_sessions(1, start_bias_s=0.7, end_bias_s=-0.7)]
        p = fit_profile(sessions, settings=Settings(), tune_detector=False, tolerance_s=1.0)
        assert (p.start_offset_s, p.end_offset_s) == (OFFSET_BOUNDS_S[0], OFFSET_BOUNDS_S[1])

    def test_profile_fitted_on_some_sets_reduces_error_on_held_out_sets(self):
        data = biased_sessions(4, start_bias_s=0.1, end_bias_s=-0.08, seed=20)
        sessions = [marked(n, t, m, fixed(s)) for n, t, m, s, _ in data]
        train, held_out = sessions[:2], sessions[2:]
        p = fit_profile(train, settings=Settings(), tune_detector=False)
        base = calibrate(held_out, settings=Settings(), tune_detector=False)
        with_profile = calibrate(held_out, settings=Settings().replace(**p.settings_changes()), tune_detector=False)
        assert abs(base.before.duration.bias_ms) > 150
        assert abs(with_profile.before.duration.bias_ms) < 30
        assert with_profile.before.duration.mae_ms < 0.5 * base.before.duration.mae_ms

    def test_cross_validation_shows_improvement_that_carries_over(self):
        sessions = [marked(n, t, m, fixed(s)) for n, t, m, s, _ in
                    biased_sessions(2, start_bias_s=0.1, end_bias_s=-0.08, seed=30, sets=2)]
        cv = cross_validate(sessions, settings=Settings(), tune_detector=False)
        assert len(cv.folds) == 4  # 2 sessions x 2 sets, each left out once
        assert cv.after.duration.mae_ms < 0.5 * cv.before.duration.mae_ms
        assert cv.before.matched == cv.after.matched == sum(len(s.marks) for s in sessions)

    def test_cross_validation_exposes_a_profile_that_memorises(self):
        # Two sets with opposite duration errors: the fit is ~0 in-sample, but each held-out
        # set judged by a profile fitted on the other one gets worse.
        a = biased_sessions(1, start_bias_s=0.1, end_bias_s=-0.1, seed=40)[0]
        b = biased_sessions(1, start_bias_s=-0.1, end_bias_s=0.1, seed=41)[0]
        sessions = [marked(n, t, m, fixed(s)) for n, t, m, s, _ in (a, b)]
        cal = calibrate(sessions, settings=Settings(), tune_detector=False)
        cv = cal.cross_validation
        assert cv.after.duration.mae_ms > 1.5 * cv.before.duration.mae_ms
        assert "worse on sets it was not fitted on" in format_text(cal)

    def test_detector_setting_is_tuned_when_it_measurably_helps(self):
        # The athlete's short-range reps (ROM 0.065 m) fall under min_rom_m (0.08) and are
        # missed; small bumps in the rests (0.035 m) must stay out.
        data = []
        for k in range(3):
            rng = np.random.default_rng(50 + k)
            truth = truth_session(rng, sets=1, reps=10)
            truth = [replace(t, rom_m=0.065 if t.rep % 3 == 0 else 0.3) for t in truth]
            bumps = [TruthRep(1, 50 + n, truth[-1].end_s + 20 + 10 * n, truth[-1].end_s + 21 + 10 * n, 0.035)
                     for n in range(2)]
            sens_all = sensor_reps(truth + bumps, rng, noise_s=0.02)
            roms = [t.rom_m for t in truth + bumps]
            off = float(rng.uniform(0, 600))
            marks = video_marks(truth, rng, offset_s=off)

            def detect(settings, sens_all=sens_all, roms=roms):
                return [r for r, rom in zip(sens_all, roms) if rom >= settings.min_rom_m]

            data.append(marked(f"s{k}", truth, marks, detect))
        cal = calibrate(data, settings=Settings(min_rom_m=0.08), tune_detector=True)
        det = dict(cal.profile.detector)
        assert det.get("min_rom_m") in (0.04, 0.056)  # 0.5 and 0.7 x 0.08: between bumps and short reps
        assert cal.before.missed == 9 and cal.after.missed == 0 and cal.after.extra == 0
        cv = cal.cross_validation
        assert cv.after.missed == 0 and cv.before.missed == 9
        assert set(det) <= {"min_rom_m", "min_rep_s"}

    def test_detector_left_alone_when_it_does_not_help(self):
        sessions = [marked(n, t, m, fixed(s)) for n, t, m, s, _ in biased_sessions(2, start_bias_s=0, end_bias_s=0)]
        assert fit_profile(sessions, settings=Settings(), tune_detector=True).detector == ()


class TestProfileFile:
    def test_round_trip_is_deterministic_and_applies_to_settings(self, tmp_path):
        p = Profile(start_offset_s=-0.0421, end_offset_s=0.0388, detector=(("min_rom_m", 0.06),))
        path = save_profile(p, tmp_path / "profile.toml", provenance={"matched": 12, "cv": None})
        first, second = load_profile(path), load_profile(path)
        assert first == second == {
            "start_offset_s": -0.0421, "end_offset_s": 0.0388, "min_rom_m": 0.06, "calibration": str(path),
        }
        s = apply_profile(Settings(), path)
        assert (s.start_offset_s, s.end_offset_s, s.min_rom_m, s.calibration) == (-0.0421, 0.0388, 0.06, str(path))
        assert "schema" in path.read_text() and PROFILE_SCHEMA in path.read_text()

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('schema = "imu-tempo.profile/0"\n[settings]\nstart_offset_s = 0.1\n', "not the one this imu-tempo reads"),
            ("[settings]\nstart_offset_s = 0.1\n", "not an imu-tempo calibration profile"),
            (f'schema = "{PROFILE_SCHEMA}"\n', r"no \[settings\] table"),
            (f'schema = "{PROFILE_SCHEMA}"\n[settings]\nthreshold_s = 2.0\n', "unknown setting.*threshold_s"),
            (f'schema = "{PROFILE_SCHEMA}"\n[settings]\nstart_offset_s = 0.9\n', r"outside its bounds \[-0.5, 0.5\]"),
            (f'schema = "{PROFILE_SCHEMA}"\n[settings]\nmin_rom_m = "a lot"\n', "must be a number"),
            ("schema = = broken", "not a valid TOML"),
        ],
    )
    def test_bad_profiles_are_clear_errors(self, tmp_path, text, message):
        f = tmp_path / "p.toml"
        f.write_text(text)
        with pytest.raises(CalibrationError, match=message) as info:
            load_profile(f)
        assert "p.toml" in str(info.value)

    def test_missing_profile(self, tmp_path):
        with pytest.raises(CalibrationError, match="not found"):
            load_profile(tmp_path / "none.toml")


# ----------------------------------------------------------------------------------------------
# Reports
# ----------------------------------------------------------------------------------------------


class TestReport:
    @pytest.fixture
    def cal(self):
        truth, sens, marks, offset, _ = scenario(5)
        return calibrate([marked("rec.csv", truth, marks, fixed(sens))], settings=Settings(), tune_detector=False), offset

    def test_json_contract(self, cal):
        cal, offset = cal
        doc = json.loads(json.dumps(report_json(cal), allow_nan=False))
        assert doc["schema"] == REPORT_SCHEMA
        assert abs(doc["offset_s"] - offset) < FRAME_S
        assert doc["drift_ppm"] == 0.0
        assert (doc["matched"], doc["missed"], doc["extra"]) == (23, 1, 1)
        assert isinstance(doc["bias_ms"], float) and isinstance(doc["mae_ms"], float)
        lo, hi = doc["loa_ms"]
        assert lo < doc["bias_ms"] < hi
        assert len(doc["per_rep"]) == 23
        assert {"start_error_ms", "end_error_ms", "duration_error_ms", "video_rep", "sensor_rep"} <= set(doc["per_rep"][0])
        assert isinstance(doc["failure_rep_agrees"], bool)
        assert doc["correction"]["profile"]["end_offset_s"] > 0 > doc["correction"]["profile"]["start_offset_s"]
        assert doc["correction"]["cross_validation"]["method"] == "leave one set out"
        assert doc["sessions"][0]["offset_method"] == "auto"

    def test_text_report_for_a_coach(self, cal):
        cal, offset = cal
        text = format_text(cal)
        assert f"{cal.reports[0].alignment.offset_s:+.3f} s" in text
        assert "23 matched, 1 in the video but missed by the sensor, 1 found by the sensor but not in the video" in text
        assert "missed by the sensor" in text and "not in the video" in text
        assert "Correction: add" in text and "before:" in text and "after:" in text
        assert "Cross-validated" in text

    def test_reps_from_analysis(self):
        doc = {"schema": "imu-tempo.analysis/1", "sets": [
            {"index": 1, "reps": [{"index": 1, "start_s": 1.0, "end_s": 2.0, "duration_s": 1.0, "concentric_s": 0.4,
                                   "detected_at_s": 2.1, "failure": None, "warning": False, "gap": False}]}]}
        (r,) = reps_from_analysis(doc)
        assert (r.set_index, r.index, r.start_s, r.end_s, r.concentric_s) == (1, 1, 1.0, 2.0, 0.4)
        with pytest.raises(CalibrationError, match="not an imu-tempo analysis"):
            reps_from_analysis({"sets": [{"index": 1}]})

    def test_plot_without_matplotlib_names_the_install(self, cal, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
        monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
        with pytest.raises(CalibrationError, match="pip install matplotlib"):
            plot_calibration(cal[0], tmp_path / "e.png")

    def test_plot_is_written(self, cal, tmp_path):
        pytest.importorskip("matplotlib")
        out = plot_calibration(cal[0], tmp_path / "errors.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class TestStartingFromAProfile:
    def test_existing_profile_is_before_and_new_profile_stands_alone(self):
        data = biased_sessions(2, start_bias_s=0.1, end_bias_s=-0.08, seed=60)
        seen = []

        def detect_for(sens):
            def detect(settings):
                seen.append((settings.start_offset_s, settings.end_offset_s, settings.min_rom_m))
                return sens
            return detect

        sessions = [marked(n, t, m, detect_for(s)) for n, t, m, s, _ in data]
        old = Settings(start_offset_s=-0.05, end_offset_s=0.05, min_rom_m=0.06, calibration="old.toml")
        cal = calibrate(sessions, settings=old, tune_detector=False)
        # The engine is always asked for raw reps (offsets applied here), with the old detector setting.
        assert set(seen) == {(0.0, 0.0, 0.06)}
        # "before" is with the old profile: half of the 180 ms duration error corrected.
        assert cal.before.duration.bias_ms == pytest.approx(-80, abs=15)
        assert cal.profile.end_offset_s - cal.profile.start_offset_s == pytest.approx(0.18, abs=0.02)
        assert dict(cal.profile.detector) == {"min_rom_m": 0.06}  # kept, so the new file stands alone
        assert abs(cal.after.duration.bias_ms) < 5
