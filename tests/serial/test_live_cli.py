"""``imu-tempo live`` and ``imu-tempo ports`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from serialkit import WearableFaults, needs_engine, simulated_session, wearable_for
from serial.tools.list_ports_common import ListPortInfo

from imu_tempo.cli import main
from imu_tempo.sources.serial import classify_port, list_ports

REP_FIELDS = {"index", "start_s", "end_s", "duration_s", "concentric_s", "detected_at_s", "failure", "warning", "gap",
              "set"}


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "imu_tempo", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def read_until(proc: subprocess.Popen[str], predicate, lines: list[str]) -> str:  # noqa: ANN001
    """Read stdout lines until one satisfies ``predicate`` (the process is killed by the test timeout if never)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if predicate(line):
            return line
    raise AssertionError(f"the process ended without the expected line; stdout: {''.join(lines)!r}; "
                         f"stderr: {proc.stderr.read() if proc.stderr else ''!r}")


@needs_engine
class TestDemo:
    def test_demo_jsonl_with_recording(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        from imu_tempo.analysis import analyze_recording
        from imu_tempo.sources.recording import read_recording

        rec = tmp_path / "session.csv"
        rc = main(["live", "--demo", "--demo-speed", "50", "--jsonl", "--record", str(rec)])
        out = capsys.readouterr().out
        assert rc == 0
        events = jsonl(out)
        kinds = [e["event"] for e in events]
        assert events[0]["state"] == "demo" and events[1]["state"] == "streaming"
        assert events[1]["format"] == "binary" and events[1]["fs_hz"] == 200.0
        reps = [e for e in events if e["event"] == "rep"]
        assert len(reps) >= 3 and REP_FIELDS <= set(reps[0])
        assert "set_end" in kinds
        assert not [e for e in events if e.get("state") == "gyro_axes"]  # its gyroscope was checked, and fits
        end = events[-1]
        assert end["event"] == "status" and end["state"] == "ended" and end["ended_by"] == "stream ended"
        assert end["reps"] == len(reps) and end["dropped_samples"] == 0 and end["corrupt_frames"] == 0
        # The recording holds every sample the engine saw, and analysing it gives the same reps.
        recording = read_recording(rec)
        assert len(recording) == end["samples"] == end["recorded_samples"]
        batch = [r for s in analyze_recording(rec)["sets"] for r in s["reps"]]
        assert len(batch) == len(reps)
        for a, b in zip(batch, reps, strict=True):
            assert abs(a["start_s"] - b["start_s"]) < 0.011 and abs(a["end_s"] - b["end_s"]) < 0.011

    def test_demo_text_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        rc = main(["live", "--demo", "--demo-speed", "50", "--exercise", "jump_squat"])
        out = capsys.readouterr().out
        assert rc == 0
        assert "[streaming]" in out and "binary frames, 200 Hz, accel+gyro" in out
        assert "set 1 rep  1" in out and "== set 1:" in out
        assert out.strip().splitlines()[-1].startswith("[ended] session stream ended: 1 set")

    def test_unknown_exercise(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["live", "--demo", "--exercise", "curls"]) == 2
        assert "kettlebell_swing" in capsys.readouterr().err


class TestErrors:
    def test_missing_port(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["live", "--serial", "/dev/ttyNOPE7"]) == 2
        err = capsys.readouterr().err
        assert "/dev/ttyNOPE7" in err and "imu-tempo ports" in err and "--demo" in err

    def test_a_source_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["live"])
        assert exc.value.code == 2
        assert "--serial" in capsys.readouterr().err

    def test_bad_values(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["live", "--demo", "--reconnect-s", "-1"]) == 2
        assert "--reconnect-s" in capsys.readouterr().err
        assert main(["live", "--serial", "/dev/null", "--record", "/nonexistent-dir/x.csv"]) == 2
        assert "does not exist" in capsys.readouterr().err


@needs_engine
class TestLostDevice:
    def test_lost_device_keeps_a_valid_recording_and_ctrl_c_prints_the_summary(self, tmp_path: Path) -> None:
        """Unplugged mid-set: said at once, the recording is complete while waiting, Ctrl-C ends cleanly."""
        from imu_tempo.sources.recording import read_recording

        s = simulated_session(200.0, reps=6)
        unplug_s = float(s.t_s[-1]) * 0.6
        w = wearable_for(s, link_path=tmp_path / "ttyIMU0", speed=5.0,
                         faults=WearableFaults(unplug_at_s=unplug_s, unplug_for_s=1e4))
        rec = tmp_path / "r.csv"
        proc = spawn("live", "--serial", w.port, "--reconnect-s", "60", "--record", str(rec), "--jsonl")
        lines: list[str] = []
        try:
            w.start()
            lost = json.loads(read_until(proc, lambda ln: '"state":"lost"' in ln, lines))
            read_until(proc, lambda ln: '"state":"reconnecting"' in ln, lines)
            # While it waits for the device, the file already holds every sample received.
            assert len(read_recording(rec)) == lost["samples"] > 0
            proc.send_signal(signal.SIGINT)
            rest, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            w.stop()
        assert proc.returncode == 130, err
        events = jsonl("".join(lines) + rest)
        assert any(e["event"] == "rep" for e in events)
        end = events[-1]
        assert end["state"] == "ended" and end["ended_by"] == "interrupted"
        assert end["samples"] == end["recorded_samples"] == lost["samples"]
        recording = read_recording(rec)
        assert len(recording) == lost["samples"] and recording.t_s[-1] < unplug_s

    def test_device_lost_for_good(self, tmp_path: Path) -> None:
        s = simulated_session(100.0, reps=4)
        w = wearable_for(s, link_path=tmp_path / "ttyIMU0", speed=10.0,
                         faults=WearableFaults(unplug_at_s=float(s.t_s[-1]) * 0.5, unplug_for_s=1e4))
        proc = spawn("live", "--serial", w.port, "--reconnect-s", "0.3")
        try:
            w.start()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            w.stop()
        assert proc.returncode == 1, err
        assert "[lost]" in out and "did not come back within 0.3 s" in out
        assert out.strip().splitlines()[-1].startswith("[ended] session device lost")


class TestPorts:
    def test_classification(self) -> None:
        acm = ListPortInfo("/dev/ttyACM0", skip_link_detection=True)
        acm.vid, acm.pid, acm.description = 0x2341, 0x8057, "Nano 33 IoT"
        bridge = ListPortInfo("/dev/ttyUSB0", skip_link_detection=True)
        bridge.vid, bridge.pid = 0x1A86, 0x7523
        builtin = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
        found = list_ports(comports=lambda: [builtin, bridge, acm])
        assert [p.device for p in found] == ["/dev/ttyACM0", "/dev/ttyUSB0"]
        assert found[0].why == "Arduino" and "CH340" in found[1].why
        assert classify_port(builtin).likely is False
        assert [p.device for p in list_ports(include_all=True, comports=lambda: [builtin])] == ["/dev/ttyS0"]

    def test_ports_command_runs_here(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["ports"]) == 0
        out = capsys.readouterr().out
        assert out.strip()
        assert main(["ports", "--all", "--jsonl"]) == 0
        for line in capsys.readouterr().out.splitlines():
            assert {"device", "likely", "why"} <= set(json.loads(line))
