"""``imu-tempo calibrate`` end to end: simulated recordings on disk, the real engine, marks files.

Two kinds of known truth:

* marks made from the engine's own reps (so the truth of every pairing is known whatever
  the detector's accuracy), with a random clock offset up to 10 minutes, human marking
  noise, 30 fps frames, a missing and an invented rep: the offset, the pairing and the
  error statistics must come out as injected;
* marks made from the simulator's truth, marked by a coach whose rep ends are 150 ms later
  than the sensor's definition: a profile fitted on two sessions must remove that error
  on a third, and ``analyze --calibration`` must apply it exactly as the calibration did.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
from scipy.stats import chi2
import pytest

from imu_tempo.analysis import analyze_recording
from imu_tempo.calibrate import PROFILE_SCHEMA, REPORT_SCHEMA, load_profile, reps_from_analysis
from imu_tempo.cli import main
from imu_tempo.settings import Settings
from imu_tempo.simulate import simulate_session, write_session

EXERCISE = "kettlebell_swing"
FPS = 30.0
HUMAN_NOISE_S = 0.04


def cli(capsys, monkeypatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", [sys.argv[0]])
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """Three simulated sessions (2 sets each) written as CSV v1 recordings, with their truth."""
    d = tmp_path_factory.mktemp("cal")
    out = []
    for seed in (11, 12, 13):
        s = simulate_session(exercise=EXERCISE, sets=2, seed=seed, rest_between_sets_s=30.0, idle_s=2.0)
        rec, _ = write_session(s, d / f"s{seed}.csv")
        out.append((rec, s))
    return out


def write_frames(path, rows, *, fps):
    """Marks as frame numbers: rows of (label, start_s, end_s) on the video clock."""
    lines = ["rep,start_frame,end_frame,notes"]
    for label, a, b, note in rows:
        lines.append(f"{label},{round(a * fps)},{round(b * fps)},{note}")
    path.write_text("\n".join(lines) + "\n")


class TestMarksFromTheEnginesReps:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_offset_pairing_and_statistics_recovered(self, recordings, tmp_path, capsys, monkeypatch, seed):
        rec, sim = recordings[seed]
        reps = reps_from_analysis(analyze_recording(rec, settings=Settings()))
        assert len(reps) >= 8, "the engine should find most of the reps of two sets"
        rng = np.random.default_rng(seed)
        offset = float(rng.uniform(30.0, 600.0))
        missing = int(rng.integers(1, len(reps) - 1))
        rows = []
        for k, r in enumerate(reps):
            if k == missing:
                continue
            rows.append((k + 1, r.start_s + offset + rng.normal(0, HUMAN_NOISE_S),
                         r.end_s + offset + rng.normal(0, HUMAN_NOISE_S), ""))
        invented = reps[-1].end_s + 20.0 + offset
        rows.append((999, invented, invented + 1.0, "invented"))
        marks = tmp_path / "marks.csv"
        write_frames(marks, rows, fps=FPS)

        code, out, err = cli(capsys, monkeypatch, "calibrate", str(rec), "--video-marks", str(marks),
                             "--fps", "30", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["schema"] == REPORT_SCHEMA
        assert abs(doc["offset_s"] - offset) < 1.0 / FPS
        assert doc["drift_ppm"] == 0.0
        assert (doc["matched"], doc["missed"], doc["extra"]) == (len(reps) - 1, 1, 1)
        for e in doc["per_rep"]:
            r = reps[e["video_rep"] - 1]
            assert (e["sensor_set"], e["sensor_rep"]) == (r.set_index, r.index)
        assert [m["video_rep"] for m in doc["missed_reps"]] == [999]
        (x,) = doc["extra_reps"]
        assert (x["sensor_set"], x["sensor_rep"]) == (reps[missing].set_index, reps[missing].index)
        # Duration error = noise on two marks + frame rounding on two marks.
        sd = math.sqrt(2 * HUMAN_NOISE_S**2 + 2 / (12 * FPS**2)) * 1e3
        n = doc["matched"]
        assert abs(doc["bias_ms"]) < 3.5 * sd / math.sqrt(n)
        lo, hi = doc["loa_ms"]
        # the sample SD of n errors scatters around sd: accept its 99.9 % chi-square interval
        ratio = (hi - lo) / (2 * 1.96) / sd
        k = n - 1
        assert math.sqrt(chi2.ppf(0.0005, k) / k) <= ratio <= math.sqrt(chi2.ppf(0.9995, k) / k)
        assert isinstance(doc["failure_rep_agrees"], bool)
        assert doc["sessions"][0]["offset_method"] == "auto"

    def test_text_report(self, recordings, tmp_path, capsys, monkeypatch):
        rec, _ = recordings[0]
        reps = reps_from_analysis(analyze_recording(rec, settings=Settings()))
        marks = tmp_path / "marks.csv"
        marks.write_text("rep,start_s,end_s\n" + "".join(
            f"{k},{r.start_s + 95.0:.3f},{r.end_s + 95.0:.3f}\n" for k, r in enumerate(reps, 1)))
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(rec), "--video-marks", str(marks))
        assert code == 0, err
        assert "video time = sensor time +95.000 s" in out
        assert f"{len(reps)} matched, 0 in the video but missed by the sensor" in out
        assert "Correction: add" in out and "Cross-validated" in out


class TestProfileFromSimulatorTruth:
    """The coach marks rep ends 150 ms after the simulator's (and the detector's) end event."""

    LATE_END_S = 0.15

    def marks_for(self, sim, path, *, offset_s, rng):
        rows = ["rep,start_s,end_s"]
        for t in sim.truth:
            a = t.start_s + offset_s + rng.normal(0, 0.02)
            b = t.end_s + self.LATE_END_S + offset_s + rng.normal(0, 0.02)
            rows.append(f"{t.rep},{round(a * FPS) / FPS:.4f},{round(b * FPS) / FPS:.4f}")
        path.write_text("\n".join(rows) + "\n")

    def test_profile_fitted_on_two_sessions_corrects_the_third(self, recordings, tmp_path, capsys, monkeypatch):
        rng = np.random.default_rng(5)
        offsets = [120.0, 250.0, 333.0]
        marks = []
        for (rec, sim), off, name in zip(recordings, offsets, ("a", "b", "c")):
            m = tmp_path / f"{name}.csv"
            self.marks_for(sim, m, offset_s=off, rng=rng)
            marks.append(m)
        profile = tmp_path / "profile.toml"
        pairs = [f"{recordings[k][0]}:{marks[k]}" for k in (0, 1)]
        code, out, err = cli(capsys, monkeypatch, "calibrate", *pairs, "--save", str(profile), "--json")
        assert code == 0, err
        fit = json.loads(out)
        assert fit["offset_s"] is None and len(fit["sessions"]) == 2
        assert fit["correction"]["saved_to"] == str(profile)
        cv = fit["correction"]["cross_validation"]
        assert len(cv["folds"]) == 4  # 2 sessions x 2 sets
        assert abs(cv["after"]["bias_ms"]) < abs(cv["before"]["bias_ms"])
        assert PROFILE_SCHEMA in profile.read_text()
        changes = load_profile(profile)
        assert changes["end_offset_s"] - changes["start_offset_s"] == pytest.approx(self.LATE_END_S, abs=0.06)

        # The third session, never seen by the fit, with a clap-synchronised clock.
        rec3 = str(recordings[2][0])
        code, out, err = cli(capsys, monkeypatch, "calibrate", rec3, "--video-marks", str(marks[2]),
                             "--offset-s", str(offsets[2]), "--json")
        assert code == 0, err
        raw = json.loads(out)
        code, out, err = cli(capsys, monkeypatch, "calibrate", rec3, "--video-marks", str(marks[2]),
                             "--offset-s", str(offsets[2]), "--calibration", str(profile), "--json")
        assert code == 0, err
        corrected = json.loads(out)
        assert raw["sessions"][0]["offset_method"] == "given"
        assert abs(raw["bias_ms"]) > 80
        assert abs(corrected["bias_ms"]) < abs(raw["bias_ms"]) - 60
        assert corrected["mae_ms"] < raw["mae_ms"]
        assert corrected["settings"]["calibration"] == str(profile)

    def test_analyze_applies_the_profile_as_calibrate_does(self, recordings, tmp_path, capsys, monkeypatch):
        rec = str(recordings[0][0])
        profile = tmp_path / "p.toml"
        profile.write_text(
            f'schema = "{PROFILE_SCHEMA}"\n[settings]\nstart_offset_s = -0.05\nend_offset_s = 0.07\n'
        )
        code, out, err = cli(capsys, monkeypatch, "analyze", rec, "--json")
        assert code == 0, err
        plain = json.loads(out)
        runs = []
        for _ in range(2):
            code, out, err = cli(capsys, monkeypatch, "analyze", rec, "--calibration", str(profile), "--json")
            assert code == 0, err
            runs.append(out)
        assert runs[0] == runs[1]  # deterministic
        cal = json.loads(runs[0])
        assert cal["settings"]["calibration"] == str(profile)
        assert (cal["settings"]["start_offset_s"], cal["settings"]["end_offset_s"]) == (-0.05, 0.07)
        a = reps_from_analysis(plain)
        b = reps_from_analysis(cal)
        assert len(a) == len(b)
        for r, c in zip(a, b):
            assert c.start_s == pytest.approx(r.start_s - 0.05, abs=1e-3)
            assert c.end_s == pytest.approx(r.end_s + 0.07, abs=1e-3)


class TestErrors:
    def test_frames_without_fps(self, recordings, tmp_path, capsys, monkeypatch):
        marks = tmp_path / "m.csv"
        marks.write_text("rep,start_frame,end_frame\n1,300,330\n")
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(recordings[0][0]), "--video-marks", str(marks))
        assert code == 2 and "--fps" in err and "m.csv" in err

    def test_unparseable_marks(self, recordings, tmp_path, capsys, monkeypatch):
        marks = tmp_path / "m.csv"
        marks.write_text("rep,start_s,end_s\n1,12.0,13.1\n2,twelve,14\n")
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(recordings[0][0]), "--video-marks", str(marks))
        assert code == 2 and "m.csv:3" in err

    def test_marks_of_another_recording(self, recordings, tmp_path, capsys, monkeypatch):
        marks = tmp_path / "m.csv"
        marks.write_text("rep,start_s,end_s\n1,10,13.5\n2,30,30.4\n3,77,80\n")
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(recordings[0][0]), "--video-marks", str(marks))
        assert code == 2 and "could not line up" in err and "tried" in err and "--offset-s" in err

    def test_recording_without_marks(self, recordings, capsys, monkeypatch):
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(recordings[0][0]))
        assert code == 2 and "--video-marks" in err

    def test_missing_recording(self, tmp_path, capsys, monkeypatch):
        marks = tmp_path / "m.csv"
        marks.write_text("rep,start_s,end_s\n1,10,11\n")
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(tmp_path / "none.csv"), "--video-marks", str(marks))
        assert code == 2 and "none.csv" in err


def test_plot(recordings, tmp_path, capsys, monkeypatch):
    """--plot writes a PNG when matplotlib is installed, and names the install when it is not."""
    rec, _ = recordings[0]
    reps = reps_from_analysis(analyze_recording(rec, settings=Settings()))
    marks = tmp_path / "m.csv"
    marks.write_text("rep,start_s,end_s\n" + "".join(
        f"{k},{r.start_s + 50:.3f},{r.end_s + 50:.3f}\n" for k, r in enumerate(reps, 1)))
    png = tmp_path / "errors.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(rec), "--video-marks", str(marks), "--plot", str(png))
        assert code == 2 and "pip install matplotlib" in err and not png.exists()
    else:
        code, out, err = cli(capsys, monkeypatch, "calibrate", str(rec), "--video-marks", str(marks), "--plot", str(png))
        assert code == 0, err
        assert png.read_bytes()[:4] == b"\x89PNG"
