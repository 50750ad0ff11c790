"""``imu-tempo analyze`` on many sessions: app exports of one simulated session agree with its
CSV v1 recording, a folder runs in parallel workers, a bad file is reported without stopping
the batch, and the summary / reps CSVs have their stable columns."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

from imu_tempo.analysis import analyze_recording
from imu_tempo.batch import REP_COLUMNS, SUMMARY_COLUMNS
from imu_tempo.cli import main
from imu_tempo.simulate import simulate_session, write_session
from tests.importers import exports as X


@pytest.fixture(scope="module")
def session():
    return simulate_session(exercise="kettlebell_swing", seed=3, fs_hz=100, idle_s=2.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, session):
    s = session
    d = tmp_path_factory.mktemp("batch")
    write_session(s, d / "ref.csv")
    X.write_phyphox_zip(d / "phone_phyphox.zip", s.t_s, s.accel, s.gyro)
    X.write_sensorlogger(d / "sensorlogger_session", s.t_s, s.accel, s.gyro)
    (d / "mm_Accelerometer_100.000Hz.csv").write_text(X.metabase_csv(s.t_s, s.accel / X.G, "g"))
    (d / "mm_Gyroscope_50.000Hz.csv").write_text(X.metabase_csv(s.t_s[::2], np.rad2deg(s.gyro[::2]), "deg/s"))
    (d / "Polar_Sense_A1_20240610_ACC.txt").write_text(X.polar_txt(s.t_s, s.accel / X.G * 1000, "mg"))
    (d / "Polar_Sense_A1_20240610_GYRO.txt").write_text(X.polar_txt(s.t_s, np.rad2deg(s.gyro), "dps"))
    (d / "broken.csv").write_text("t,ax,ay,az\n0,0,0,9.8\n0.01,0,zero,9.8\n")
    (d / "notes.csv").write_text("who,what\ncoach,swings\n")
    return d


def cli(capsys, monkeypatch, *argv):
    monkeypatch.setattr(sys, "argv", [sys.argv[0]])
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_export_gives_the_reps_of_the_recording(folder):
    ref = analyze_recording(folder / "ref.csv")
    ref_reps = [r for s in ref["sets"] for r in s["reps"]]
    assert len(ref_reps) >= 8
    for name in ("phone_phyphox.zip", "sensorlogger_session"):  # two-file sessions: see the folder test
        res = analyze_recording(folder / name)
        reps = [r for s in res["sets"] for r in s["reps"]]
        assert len(reps) == len(ref_reps), name
        for a, b in zip(reps, ref_reps):
            assert abs(a["start_s"] - b["start_s"]) < 0.02 and abs(a["end_s"] - b["end_s"]) < 0.02, name
        assert [s["first_failure_rep"] for s in res["sets"]] == [s["first_failure_rep"] for s in ref["sets"]]


def test_folder_in_parallel_with_summary_reps_and_errors(folder, tmp_path, capsys, monkeypatch):
    summary, reps = tmp_path / "summary.csv", tmp_path / "reps.csv"
    code, out, err = cli(capsys, monkeypatch, "analyze", str(folder), "--summary", str(summary),
                         "--reps-csv", str(reps), "--jobs", "2")
    assert code == 1  # one session failed, the others were analysed
    assert "1 of 6 session(s) could not be analysed" in err
    assert "broken.csv:3: column 'ay'" in err
    assert "skipped 2 file(s)" in err and "notes.csv" in err and "ref.truth.csv" in err
    with open(summary, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == SUMMARY_COLUMNS
    by_format: dict[str, list[dict]] = {}
    for r in rows:
        if not r["error"]:
            by_format.setdefault(r["format"], []).append(r)
    assert set(by_format) == {"csv-v1", "phyphox", "sensor-logger", "metamotion", "polar"}
    ref_sets = by_format["csv-v1"]
    for fmt in ("phyphox", "sensor-logger"):  # lossless exports: the same reps exactly
        sets = by_format[fmt]
        assert [(r["set"], r["reps"], r["failure_rep"]) for r in sets] == [
            (r["set"], r["reps"], r["failure_rep"]) for r in ref_sets], fmt
        for r, q in zip(sets, ref_sets):
            assert abs(float(r["mean_rep_s"]) - float(q["mean_rep_s"])) < 0.01, fmt
    for fmt in ("metamotion", "polar"):
        # MetaBase keeps 0.001 g and 1 ms (and a 50 Hz gyro here), Polar 1 mg: the detector may
        # see one rep more or less at a set's edge, never a different session
        total = sum(int(r["reps"]) for r in by_format[fmt])
        assert abs(total - sum(int(r["reps"]) for r in ref_sets)) <= 1, fmt
    ref = ref_sets[0]
    assert ref["exercise"] == "kettlebell_swing" and ref["slowdown_pct"]
    assert [r for r in rows if r["error"]][0]["file"].endswith("broken.csv")
    with open(reps, newline="") as f:
        rep_rows = list(csv.DictReader(f))
    assert tuple(rep_rows[0].keys()) == REP_COLUMNS
    assert len(rep_rows) == sum(int(r["reps"]) for r in rows if not r["error"] and r["reps"])
    assert {r["status"] for r in rep_rows} >= {"ok", "fail"}
    assert "first failure" in out  # the terminal summary, one line per set


def test_two_file_session_on_the_command_line(folder, capsys, monkeypatch):
    code, out, _ = cli(capsys, monkeypatch, "analyze", str(folder / "mm_Accelerometer_100.000Hz.csv"),
                       str(folder / "mm_Gyroscope_50.000Hz.csv"), "--json")
    assert code == 0
    res = json.loads(out)  # one session: one analysis object, not a list
    assert res["metadata"]["source_format"] == "metamotion" and res["sets"]


def test_single_bad_file_is_one_clear_error(folder, capsys, monkeypatch):
    code, _, err = cli(capsys, monkeypatch, "analyze", str(folder / "broken.csv"))
    assert code == 2 and "broken.csv:3" in err and "Traceback" not in err


def test_convert_then_analyze_equals_direct(folder, tmp_path, capsys, monkeypatch):
    out_csv = tmp_path / "session.csv"
    code, out, _ = cli(capsys, monkeypatch, "convert", str(folder / "Polar_Sense_A1_20240610_ACC.txt"),
                       str(folder / "Polar_Sense_A1_20240610_GYRO.txt"), "-o", str(out_csv))
    assert code == 0 and "from polar" in out
    a = analyze_recording(out_csv)
    code, out, _ = cli(capsys, monkeypatch, "analyze", str(folder / "Polar_Sense_A1_20240610_ACC.txt"),
                       str(folder / "Polar_Sense_A1_20240610_GYRO.txt"), "--json")
    b = json.loads(out)
    ra = [(r["start_s"], r["end_s"]) for s in a["sets"] for r in s["reps"]]
    rb = [(r["start_s"], r["end_s"]) for s in b["sets"] for r in s["reps"]]
    np.testing.assert_allclose(ra, rb, atol=2e-6)  # CSV v1 keeps 1 us and 6 significant digits
    code, _, err = cli(capsys, monkeypatch, "convert", str(out_csv), "-o", str(out_csv))
    assert code == 2 and "also an input" in err
