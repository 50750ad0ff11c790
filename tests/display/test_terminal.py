"""The terminal view: a live table in a terminal (a real pty here), plain lines in a pipe."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import re
import subprocess
import sys

import numpy as np
from displaykit import RECORDINGS, ExpectedSet, expected_set, new_view, recorded_run
from rich.console import Console

from imu_tempo.display.terminal import (
    MAX_ROWS,
    TerminalTable,
    is_terminal,
    make_printer,
)
from imu_tempo.outputs import TextPrinter
from imu_tempo.types import SampleBlock, StatusEvent

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def replay_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "imu_tempo", "replay", str(RECORDINGS / "sim_kettlebell_swing.csv"),
            "--speed", "max", *extra]


def done_line(exp: ExpectedSet) -> str:
    """The table's set summary line, from the engine's analysis (best and mean as the summary JSON rounds them)."""
    return (f"set {exp.set_index} done: {exp.rep_count} reps, best {exp.best_rep_s:.2f} s, "
            f"mean {exp.mean_rep_s:.2f} s, tempo failure at rep {exp.first_failure_rep} ({exp.failure_reason})")


class TestFallback:
    def test_a_pipe_gets_plain_lines(self) -> None:
        exp = expected_set()  # the CLI replays the same recording with the default settings
        proc = subprocess.run(replay_cmd(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        assert "\x1b" not in out and "┃" not in out
        lines = out.splitlines()
        assert lines[0].startswith("replaying sim_kettlebell_swing")
        set_no = exp.set_index
        rep_lines = [ln for ln in lines if ln.startswith(f"set {set_no} rep ")]
        assert [int(ln.split()[3]) for ln in rep_lines] == list(exp.indices)
        failure_line = (f"  >>> TEMPO FAILURE in set {set_no} at rep {exp.first_failure_rep} ({exp.failure_reason}): "
                        "the set is over for power work")
        assert [ln for ln in lines if "TEMPO FAILURE" in ln] == [failure_line]
        best = min(r.duration_s for r in exp.reps)
        assert lines[-1] == (f"== set {set_no}: {exp.rep_count} reps, best {best:.2f}s, "
                             f"tempo failure at rep {exp.first_failure_rep} ({exp.failure_reason})")

    def test_make_printer_chooses_by_stream(self) -> None:
        view = new_view()
        assert isinstance(make_printer(view, stream=io.StringIO()), TextPrinter)
        assert not is_terminal(io.StringIO())
        master, slave = pty.openpty()
        try:
            with os.fdopen(slave, "w", closefd=False) as tty_stream:
                assert is_terminal(tty_stream)
                assert isinstance(make_printer(view, stream=tty_stream), TerminalTable)
                assert isinstance(make_printer(view, stream=tty_stream, plain=True), TextPrinter)
        finally:
            os.close(master)
            os.close(slave)


class TestTable:
    def test_table_shows_the_set_state_and_link(self) -> None:
        events, _ = recorded_run()
        exp = expected_set()
        view = new_view()
        buf = io.StringIO()
        table = TerminalTable(view, console=Console(file=buf, force_terminal=True, width=110, color_system="standard"))

        async def main() -> None:
            async with table:
                view.apply(StatusEvent(state="streaming", message="/dev/ttyACM0: binary frames, 100 Hz"))
                table(StatusEvent(state="streaming", message="/dev/ttyACM0: binary frames, 100 Hz"))
                view.on_block(SampleBlock(t_s=np.arange(4) / 100, accel=np.zeros((4, 3)), gyro=None, fs_hz=100.0,
                                          dropped=7))
                for ev in events:
                    view.apply(ev)
                    table(ev)

        asyncio.run(main())
        raw = buf.getvalue()
        assert "\x1b[" in raw  # colours and cursor moves: a live display
        text = ANSI.sub("", raw)
        final = text[text.rindex("rep ┃"):]  # the last drawing of the table
        rows = re.findall(r"│\s+(\d+) │\s+([\d.]+) │\s+([\d.-]+) │\s+([+-]?\d*) │ ([^│]+)│", final)
        shown = slice(-MAX_ROWS, None)  # the latest reps of the set
        assert [int(r[0]) for r in rows] == list(exp.indices[shown])
        assert [r[1] for r in rows] == [f"{d:.2f}" for d in exp.durations_s[shown]]
        assert [r[2] for r in rows] == ["-" if c is None else f"{c:.2f}" for c in exp.concentric_s[shown]]
        # trend % against the set's reference (blank before the set has one)
        assert [r[3] for r in rows] == ["" if t is None else f"{t:+.0f}" for t in exp.trend_pct[shown]]
        assert any(r[3] for r in rows)
        states = [r[4].strip() for r in rows]
        labels = {"ok": "ok", "warning": "warning"}
        assert states == [(labels.get(st) or f"FAIL ({r.failure})") + (", gap in data" if r.gap else "")
                          for st, r in zip(exp.states[shown], exp.reps[shown], strict=True)]
        first_fail = exp.indices[shown].index(exp.first_failure_rep)
        assert states[first_fail] == f"FAIL ({exp.failure_reason})"
        assert "warning" in states and "ok" in states
        assert done_line(exp) in final
        assert "sensor: streaming" in final and "7 dropped samples" in final and "nominal 100" in final
        # Status lines and the failure cue stay in the scrollback above the table.
        assert "[streaming] /dev/ttyACM0: binary frames, 100 Hz" in text
        assert f">>> TEMPO FAILURE in set {exp.set_index} at rep {exp.first_failure_rep} ({exp.failure_reason})" in text

    def test_lost_sensor_is_shown(self) -> None:
        view = new_view()
        view.apply(StatusEvent(state="reconnecting", message="/dev/ttyACM0: retrying for 30 s"))
        buf = io.StringIO()
        Console(file=buf, width=120).print(TerminalTable(view, console=Console(file=io.StringIO())).render())
        assert "SENSOR LOST: reconnecting" in buf.getvalue() and "retrying for 30 s" in buf.getvalue()


class TestRealTerminal:
    def test_replay_in_a_pty_draws_the_live_table(self) -> None:
        """stdout is a real pseudo-terminal: the CLI picks the live table, not plain lines."""
        exp = expected_set()  # the CLI replays the same recording with the default settings
        master, slave = pty.openpty()
        env = {**os.environ, "COLUMNS": "100", "LINES": "40", "TERM": "xterm-256color"}
        with subprocess.Popen(replay_cmd(), stdout=slave, stderr=subprocess.PIPE, env=env) as proc:
            os.close(slave)
            chunks = []
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            os.close(master)
            assert proc.stderr is not None
            err = proc.stderr.read()
            assert proc.wait(timeout=60) == 0, err
        text = ANSI.sub("", b"".join(chunks).decode(errors="replace"))
        assert "┃ rep ┃ duration s ┃ concentric s ┃ trend % ┃ state" in text
        assert f"FAIL ({exp.failure_reason})" in text and done_line(exp) in text
        assert "sensor: session ended" in text
