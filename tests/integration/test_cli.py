"""The analyze / replay / simulate commands end to end, through real files and subprocess-free main()."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imu_tempo.cli import main
from imu_tempo.simulate import simulate_session, write_session
from imu_tempo.sources.recording import write_recording

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "set.csv"
    write_session(simulate_session(exercise="push_press", fs_hz=100.0, seed=4, walk=False, idle_s=3.0), path)
    return path


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_replay_max_json_is_identical_to_analyze_json(capsys, demo_csv):
    code, a_out, _ = _run(capsys, "analyze", str(demo_csv), "--json", "--measure", "concentric")
    assert code == 0
    code, r_out, _ = _run(capsys, "replay", str(demo_csv), "--speed", "max", "--json", "--measure", "concentric")
    assert code == 0
    assert a_out == r_out
    doc = json.loads(a_out)
    assert doc["schema"] == "imu-tempo.analysis/1"
    assert doc["sets"] and doc["sets"][0]["rep_count"] >= 3
    for key in ("index", "start_s", "end_s", "duration_s", "concentric_s", "detected_at_s", "failure", "warning", "gap"):
        assert key in doc["sets"][0]["reps"][0]
    assert doc["settings"]["measure"] == "concentric"


def test_replay_block_size_does_not_change_the_json(capsys, demo_csv):
    outs = []
    for bs in ("1", "13"):
        code, out, _ = _run(capsys, "replay", str(demo_csv), "--speed", "max", "--json", "--block-size", bs)
        assert code == 0
        outs.append(out)
    assert outs[0] == outs[1]


def test_analyze_table_names_the_failure(capsys, demo_csv):
    code, out, _ = _run(capsys, "analyze", str(demo_csv), "--measure", "concentric", "--slowdown", "0.05")
    assert code == 0
    assert "tempo failure at rep" in out and "FAIL (trend)" in out


def test_replay_jsonl_streams_events(capsys, demo_csv):
    code, out, _ = _run(capsys, "replay", str(demo_csv), "--speed", "max", "--jsonl")
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    kinds = {e["event"] for e in events}
    assert "rep" in kinds and "set_end" in kinds
    assert all("detected_at_s" in e for e in events if e["event"] == "rep")


def test_missing_file_is_one_clear_line(capsys, tmp_path):
    code, out, err = _run(capsys, "analyze", str(tmp_path / "nope.csv"))
    assert code == 2
    assert "nope.csv" in err and "Traceback" not in err


def test_g_units_without_the_flag_suggest_it(capsys, tmp_path):
    s = simulate_session(exercise="pull_up", fs_hz=50.0, seed=1, walk=False, idle_s=2.0)
    path = tmp_path / "in_g.csv"
    write_recording(path, t_s=s.t_s, accel=s.accel / 9.80665)
    code, _, err = _run(capsys, "analyze", str(path))
    assert code == 2 and "--accel-unit g" in err
    code, out, _ = _run(capsys, "analyze", str(path), "--accel-unit", "g", "--json")
    assert code == 0 and json.loads(out)["sample_rate_hz"] == pytest.approx(50.0, rel=0.01)


def test_bad_setting_is_named(capsys, demo_csv):
    code, _, err = _run(capsys, "analyze", str(demo_csv), "--confirm", "0")
    assert code == 2 and "confirm" in err


def test_simulate_writes_recording_and_truth(capsys, tmp_path):
    out = tmp_path / "demo.csv"
    code, text, _ = _run(capsys, "simulate", "--out", str(out))
    assert code == 0 and out.exists() and (tmp_path / "demo.truth.csv").exists()
    header = (tmp_path / "demo.truth.csv").read_text().splitlines()[0]
    assert header == "set,rep,start_s,end_s,concentric_s"


def test_simulate_tempo_suggests_the_scaled_limit_and_the_analysis_counts_it(capsys, tmp_path):
    """A set slow from its first rep (simulate --tempo), analysed as the summary says: every rep
    counted, and no failure at rep 1 from a limit meant for fast reps."""
    out = tmp_path / "slow.csv"
    code, text, _ = _run(capsys, "simulate", "--out", str(out), "--exercise", "push_press", "--tempo", "1.6",
                         "--seed", "3")
    assert code == 0 and "--threshold-s 1.92" in text
    code, text, _ = _run(capsys, "analyze", str(out), "--measure", "concentric", "--threshold-s", "1.92", "--json")
    doc = json.loads(text)
    truth = np.genfromtxt(tmp_path / "slow.truth.csv", delimiter=",", names=True)
    reps = [r for st in doc["sets"] for r in st["reps"]]
    assert len(reps) == len(truth)
    assert doc["sets"][0]["first_failure_rep"] != 1


def test_the_console_script_runs(tmp_path):
    """`python -m imu_tempo` is the same entry point as the `imu-tempo` script."""
    r = subprocess.run([sys.executable, "-m", "imu_tempo", "analyze", os.path.join(ROOT, "recordings", "sim_jump_squat.csv"),
                        "--measure", "concentric", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    truth = np.genfromtxt(os.path.join(ROOT, "recordings", "sim_jump_squat.truth.csv"), delimiter=",", names=True)
    found = [rep for s in doc["sets"] for rep in s["reps"]]
    assert abs(len(found) - len(truth)) <= 1


@pytest.mark.filterwarnings("default::imu_tempo.errors.ImuTempoWarning")  # shown, as outside the test suite
def test_a_finding_about_the_data_is_one_warning_line(capsys, demo_csv, tmp_path):
    """Reader warnings (a cut last line, a saturated sensor) read as the command's own, not as Python's."""
    cut = tmp_path / "cut.csv"
    cut.write_bytes(demo_csv.read_bytes() + b"99.0,0.1")
    code, _, err = _run(capsys, "replay", str(cut), "--speed", "max", "--measure", "concentric")
    assert code == 0
    assert "imu-tempo replay: warning: " in err and "cut.csv" in err and "skipped the last line" in err
    assert "ImuTempoWarning" not in err and "replay.py" not in err


@pytest.mark.filterwarnings("default::imu_tempo.errors.ImuTempoWarning")
def test_what_the_reader_warned_about_is_in_the_json_of_analyze_and_replay_alike(capsys, demo_csv, tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_bytes(demo_csv.read_bytes() + b"99.0,0.1")
    code, a_out, _ = _run(capsys, "analyze", str(cut), "--json", "--measure", "concentric")
    assert code == 0
    analysed = json.loads(a_out)
    assert len(analysed["warnings"]) == 1 and "skipped the last line '99.0,0.1'" in analysed["warnings"][0]
    code, r_out, _ = _run(capsys, "replay", str(cut), "--speed", "max", "--json", "--measure", "concentric")
    assert code == 0 and json.loads(r_out) == analysed
    code, clean, _ = _run(capsys, "analyze", str(demo_csv), "--json", "--measure", "concentric")
    assert "warnings" not in json.loads(clean)  # nothing to say: no key


def test_analyze_and_replay_hint_at_the_concentric_measure_when_rep_1_is_over_the_limit(capsys):
    """The shipped jump squats, timed whole (the default): rep 1 lasts 2 s and fails at once.  The hint
    names the flag (and the recording's own recommendation); it is not given once a measure is chosen,
    nor for swings, whose whole reps are the tempo."""
    squats = os.path.join(ROOT, "recordings", "sim_jump_squat.csv")
    code, out, err = _run(capsys, "analyze", squats)
    assert code == 0 and "tempo failure at rep 1 (absolute)" in out
    assert "hint:" in err and "--measure concentric" in err and "the recording recommends --measure concentric" in err
    code, out, err = _run(capsys, "analyze", squats, "--measure", "rep")
    assert code == 0 and "hint:" not in err
    code, out, err = _run(capsys, "analyze", squats, "--json")
    assert code == 0 and "hint:" not in err and json.loads(out)["settings"]["measure"] == "rep"
    code, out, err = _run(capsys, "analyze", os.path.join(ROOT, "recordings", "sim_kettlebell_swing.csv"))
    assert code == 0 and "hint:" not in err
    code, out, err = _run(capsys, "replay", squats, "--speed", "max")
    assert code == 0 and "imu-tempo replay: hint:" in err and "--measure concentric" in err
    code, out, err = _run(capsys, "replay", squats, "--speed", "max", "--measure", "concentric")
    assert code == 0 and "hint:" not in err
