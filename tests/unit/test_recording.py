"""CSV v1 recordings: writer, reader, unit checks, gaps and blocks, all through real files."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_tempo.errors import ConfigError, ImuTempoWarning, RecordingError, UnitError
from imu_tempo.sources.recording import (
    STANDARD_GRAVITY,
    Recording,
    RecordingWriter,
    find_gaps,
    read_recording,
    write_recording,
)
from imu_tempo.types import Gap, SampleBlock

G = STANDARD_GRAVITY


def put(tmp_path: Path, text: str | bytes, name: str = "rec.csv") -> Path:
    """Write exactly these bytes (no newline translation)."""
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def rows(n: int = 5, *, fs_hz: float = 100.0, az: float = 9.81, gyro: bool = False, t0: float = 0.0) -> str:
    out = []
    for i in range(n):
        t = t0 + i / fs_hz
        line = f"{t:.6f},{0.1 * i:.4f},{-0.2:.4f},{az}"
        if gyro:
            line += f",{0.01 * i:.4f},0.02,-0.03"
        out.append(line + "\n")
    return "".join(out)


def at_rest(n: int, *, fs_hz: float = 100.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 100.0 + np.arange(n) / fs_hz
    accel = rng.normal(0.0, 0.5, (n, 3)) + [0.0, 0.0, G]
    gyro = rng.normal(0.0, 0.3, (n, 3))
    return t, accel, gyro


def read_quiet(path: Path, **kw: str) -> tuple[Recording, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_recording(path, **kw)
    return rec, list(caught)


# ---------------------------------------------------------------------------


class TestWriteRecording:
    def test_layout(self, tmp_path: Path) -> None:
        t, a, g = at_rest(3)
        p = tmp_path / "w.csv"
        write_recording(p, t_s=t, accel=a, gyro=g, metadata={"sensor": "demo", "sample_rate_hz": "100"})
        lines = p.read_text().splitlines()
        assert lines[:3] == ["# sensor: demo", "# sample_rate_hz: 100", "t,ax,ay,az,gx,gy,gz"]
        assert len(lines) == 6
        assert lines[3].split(",")[0] == "100.000000"
        assert p.read_bytes().endswith(b"\n")
        assert not (tmp_path / "w.csv.partial").exists()

    def test_no_gyro_header(self, tmp_path: Path) -> None:
        t, a, _ = at_rest(3)
        p = tmp_path / "w.csv"
        write_recording(p, t_s=t, accel=a)
        assert p.read_text().splitlines()[0] == "t,ax,ay,az"

    def test_round_trip(self, tmp_path: Path) -> None:
        t, a, g = at_rest(1000)
        p = tmp_path / "w.csv"
        write_recording(p, t_s=t, accel=a, gyro=g, metadata={"sample_rate_hz": "100", "exercise": "jump squat"})
        rec = read_recording(p)
        np.testing.assert_allclose(rec.t_s, t, rtol=0, atol=6e-7)
        np.testing.assert_allclose(rec.accel, a, rtol=5.1e-6, atol=1e-12)
        assert rec.gyro is not None
        np.testing.assert_allclose(rec.gyro, g, rtol=5.1e-6, atol=1e-12)
        assert rec.metadata == {"sample_rate_hz": "100", "exercise": "jump squat"}
        assert rec.fs_hz == 100.0
        assert rec.extra_columns == () and rec.skipped_lines == ()

    # arbitrary values can repeat an axis's maximum: a saturation warning, which is not what this tests
    @pytest.mark.filterwarnings("ignore::imu_tempo.errors.ImuTempoWarning")
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        data=st.data(),
        n=st.integers(min_value=2, max_value=40),
        with_gyro=st.booleans(),
        t0=st.floats(min_value=-1e5, max_value=1e5, allow_nan=False),
    )
    def test_round_trip_property(self, tmp_path: Path, data: st.DataObject, n: int, with_gyro: bool, t0: float) -> None:
        steps = data.draw(st.lists(st.floats(min_value=1e-4, max_value=0.5), min_size=n - 1, max_size=n - 1))
        t = t0 + np.concatenate([[0.0], np.cumsum(steps)])
        small = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_subnormal=False)
        vertical = st.floats(min_value=6.0, max_value=15.0)
        ax = data.draw(st.lists(small, min_size=n, max_size=n))
        ay = data.draw(st.lists(small, min_size=n, max_size=n))
        az = data.draw(st.lists(vertical, min_size=n, max_size=n))
        a = np.column_stack([ax, ay, az])
        g = None
        if with_gyro:
            rate = st.floats(min_value=-20.0, max_value=20.0, allow_subnormal=False)  # |g| < 40 rad/s
            g = np.array(data.draw(st.lists(st.tuples(rate, rate, rate), min_size=n, max_size=n)))
        key = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).filter(
            lambda k: k not in ("accel_unit", "gyro_unit", "sample_rate_hz")
        )
        value = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20).map(
            str.strip
        )
        meta = data.draw(st.dictionaries(key, value, max_size=3))
        p = tmp_path / "prop.csv"
        write_recording(p, t_s=t, accel=a, gyro=g, metadata=meta)
        rec = read_recording(p, gyro_axes="x,y,z")  # random rates turn no gravity the way it is seen: not checked
        np.testing.assert_allclose(rec.t_s, t, rtol=0, atol=5e-7 + 4 * np.spacing(np.abs(t).max()))
        np.testing.assert_allclose(rec.accel, a, rtol=5.1e-6, atol=1e-300)
        if g is None:
            assert rec.gyro is None
        else:
            assert rec.gyro is not None
            np.testing.assert_allclose(rec.gyro, g, rtol=5.1e-6, atol=1e-300)
        assert rec.metadata == meta

    @pytest.mark.parametrize(
        "t, accel, msg",
        [
            ([0.0, 0.01, 0.01], np.full((3, 3), 5.0), "strictly increase"),
            ([0.0, 0.02, 0.01], np.full((3, 3), 5.0), "strictly increase"),
            ([0.0, 0.01, 0.02], [[5, 5, 5], [5, np.nan, 5], [5, 5, 5]], "NaN"),
            ([0.0, 0.01, 0.02], [[5, 5, 5], [5, 5, 5]], "shape"),
        ],
    )
    def test_refuses_what_the_reader_would_reject(self, tmp_path: Path, t: list[float], accel: object, msg: str) -> None:
        p = tmp_path / "bad.csv"
        with pytest.raises(ValueError, match=msg):
            write_recording(p, t_s=np.array(t), accel=np.array(accel, dtype=float))
        assert not p.exists()

    @pytest.mark.parametrize(
        "meta",
        [{"a\nb": "x"}, {"key": "two\nlines"}, {"a:b": "x"}, {"": "x"}, {"accel_unit": "g"}, {"gyro_unit": "deg/s"}],
    )
    def test_refuses_bad_metadata(self, tmp_path: Path, meta: dict[str, str]) -> None:
        t, a, _ = at_rest(3)
        with pytest.raises(ConfigError):
            write_recording(tmp_path / "m.csv", t_s=t, accel=a, metadata=meta)

    def test_unit_metadata_matching_the_written_units_is_fine(self, tmp_path: Path) -> None:
        t, a, g = at_rest(3)
        p = tmp_path / "m.csv"
        write_recording(p, t_s=t, accel=a, gyro=g, metadata={"accel_unit": "m/s^2", "gyro_unit": "rad/s"})
        assert read_recording(p).metadata["accel_unit"] == "m/s^2"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def block(t: np.ndarray, a: np.ndarray, g: np.ndarray | None = None) -> SampleBlock:
    return SampleBlock(t_s=t, accel=a, gyro=g, fs_hz=100.0)


class TestRecordingWriter:
    def test_header_is_on_disk_at_once(self, tmp_path: Path) -> None:
        p = tmp_path / "live.csv"
        with RecordingWriter(p, has_gyro=True, metadata={"sample_rate_hz": "100"}, clock=FakeClock()):
            assert p.read_text() == "# sample_rate_hz: 100\nt,ax,ay,az,gx,gy,gz\n"

    def test_rows_are_readable_while_open_and_synced_each_second(self, tmp_path: Path) -> None:
        clock = FakeClock()
        t, a, g = at_rest(40)
        p = tmp_path / "live.csv"
        w = RecordingWriter(p, has_gyro=True, metadata={"sample_rate_hz": "100"}, clock=clock)
        try:
            synced = []
            for k, now in enumerate([0.0, 0.4, 0.9, 1.1, 1.5, 2.05, 2.1, 2.2]):
                clock.now = now
                w.write(block(t[5 * k : 5 * k + 5], a[5 * k : 5 * k + 5], g[5 * k : 5 * k + 5]))
                synced.append(w.synced_rows)
                # Another reader sees every row written so far (certainly all written > 1 s ago).
                rec = read_recording(p)
                assert len(rec) == 5 * (k + 1)
                np.testing.assert_allclose(rec.accel, a[: 5 * (k + 1)], rtol=5.1e-6)
            # fsync when >= 1 s (on the injected clock) since the previous one: at 1.1 and 2.1.
            assert synced == [0, 0, 0, 20, 20, 20, 35, 35]
            assert w.rows_written == 40
            w.flush()
            assert w.synced_rows == 40
        finally:
            w.close()
        assert w.closed
        w.close()  # idempotent

    def test_context_manager_closes(self, tmp_path: Path) -> None:
        t, a, _ = at_rest(4)
        p = tmp_path / "live.csv"
        with RecordingWriter(p, has_gyro=False, clock=FakeClock()) as w:
            w.write(block(t, a))
        assert w.closed and w.synced_rows == 4
        with pytest.raises(RuntimeError, match="closed"):
            w.write(block(t, a))
        assert len(read_recording(p)) == 4

    def test_bad_block_writes_nothing_and_file_stays_valid(self, tmp_path: Path) -> None:
        t, a, g = at_rest(6)
        p = tmp_path / "live.csv"
        with RecordingWriter(p, has_gyro=False, clock=FakeClock()) as w:
            w.write(block(t[:3], a[:3]))
            with pytest.raises(ValueError, match="strictly increase"):
                w.write(block(t[:3], a[:3]))  # time repeats across blocks
            with pytest.raises(ValueError, match="gyro"):
                w.write(block(t[3:], a[3:], g[3:]))
            bad = a[3:].copy()
            bad[1, 2] = np.inf
            with pytest.raises(ValueError, match="NaN or infinite"):
                w.write(block(t[3:], bad))
            w.write(block(t[3:], a[3:]))
        rec = read_recording(p)
        np.testing.assert_allclose(rec.t_s, t, atol=6e-7)

    def test_empty_block_is_a_no_op(self, tmp_path: Path) -> None:
        p = tmp_path / "live.csv"
        with RecordingWriter(p, has_gyro=False, clock=FakeClock()) as w:
            w.write(block(np.empty(0), np.empty((0, 3))))
            assert w.rows_written == 0

    def test_bad_sync_interval(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="sync_interval_s"):
            RecordingWriter(tmp_path / "x.csv", has_gyro=False, sync_interval_s=0)

    def test_file_cut_at_any_byte_reads_up_to_the_last_complete_line(self, tmp_path: Path) -> None:
        t, a, g = at_rest(4)
        full = tmp_path / "full.csv"
        with RecordingWriter(full, has_gyro=True, metadata={"sample_rate_hz": "100"}, clock=FakeClock()) as w:
            w.write(block(t[:2], a[:2], g[:2]))
            w.write(block(t[2:], a[2:], g[2:]))
        data = full.read_bytes()
        header_end = data.index(b"t,ax") + len("t,ax,ay,az,gx,gy,gz\n")
        cut_file = tmp_path / "cut.csv"
        for k in range(len(data) + 1):
            cut_file.write_bytes(data[:k])
            complete_rows = data[header_end:k].count(b"\n") if k >= header_end else 0
            if complete_rows == 0:
                with pytest.raises(RecordingError):
                    read_quiet(cut_file)
                continue
            rec, caught = read_quiet(cut_file)
            assert len(rec) == complete_rows, k
            np.testing.assert_allclose(rec.t_s, t[:complete_rows], atol=6e-7)
            ends_mid_line = not data[:k].endswith(b"\n")
            assert [issubclass(c.category, ImuTempoWarning) for c in caught] == ([True] if ends_mid_line else [])
            assert bool(rec.skipped_lines) == ends_mid_line


# ---------------------------------------------------------------------------


class TestReadRecording:
    def test_basic(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az\n" + rows(5))
        rec = read_recording(p)
        assert len(rec) == 5 and rec.gyro is None
        assert rec.path == str(p) and rec.name == "rec.csv"
        np.testing.assert_allclose(rec.t_s, np.arange(5) / 100)
        np.testing.assert_allclose(rec.accel[:, 2], 9.81)
        assert rec.fs_hz == pytest.approx(100.0)
        assert rec.duration_s == pytest.approx(0.04)
        assert not rec.t_s.flags.writeable and not rec.accel.flags.writeable

    def test_metadata_and_sample_rate(self, tmp_path: Path) -> None:
        text = "# sensor: MetaMotion S\n#placement:  right wrist \n# just a comment\n\n# sample_rate_hz: 100\n"
        p = put(tmp_path, text + "t,ax,ay,az\n" + rows(5, fs_hz=102.0))
        rec = read_recording(p)
        assert rec.metadata == {"sensor": "MetaMotion S", "placement": "right wrist", "sample_rate_hz": "100"}
        assert rec.fs_hz == 100.0  # the declared nominal rate, not the measured 102

    def test_rate_from_median_spacing(self, tmp_path: Path) -> None:
        body = rows(20, fs_hz=52.0)
        p = put(tmp_path, "t,ax,ay,az\n" + body)
        assert read_recording(p).fs_hz == pytest.approx(52.0, rel=1e-4)

    def test_gyro_column_order_whitespace_and_extra_columns(self, tmp_path: Path) -> None:
        text = (
            ' "seq" , gz,az , T ,ax,gx, ay ,gy , note\n'
            "1, 0.3, 9.8, 10.00, 0.1, 0.1, 0.2, 0.2, start\n"
            "\n"
            "   \n"
            "2, 0.6, 9.7, 10.01, 0.4, 0.4, 0.5, 0.5, x\r\n"
        )
        rec, caught = read_quiet(put(tmp_path, text))
        assert caught == []
        assert rec.extra_columns == ("seq", "note")
        np.testing.assert_allclose(rec.t_s, [10.0, 10.01])
        np.testing.assert_allclose(rec.accel, [[0.1, 0.2, 9.8], [0.4, 0.5, 9.7]])
        assert rec.gyro is not None
        np.testing.assert_allclose(rec.gyro, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])

    def test_blank_lines_are_skipped_silently(self, tmp_path: Path) -> None:
        p = put(tmp_path, "\n# a: b\n\nt,ax,ay,az\n\n" + rows(2) + "\n\n" + rows(2, t0=1.0) + "\n")
        rec, caught = read_quiet(p)
        assert caught == [] and len(rec) == 4 and rec.skipped_lines == ()

    def test_utf8_bom_and_crlf(self, tmp_path: Path) -> None:
        p = put(tmp_path, b"\xef\xbb\xbf" + ("t,ax,ay,az\n" + rows(3)).replace("\n", "\r\n").encode())
        assert len(read_recording(p)) == 3

    def test_truncated_last_line_is_skipped_with_a_warning(self, tmp_path: Path) -> None:
        p = put(tmp_path, "# s: x\nt,ax,ay,az\n" + rows(3) + "0.030000,0.3,-0.2")
        with pytest.warns(ImuTempoWarning, match=r"rec\.csv:6: skipped the last line '0\.030000,0\.3,-0\.2'"):
            rec = read_recording(p)
        assert len(rec) == 3 and rec.skipped_lines == (6,)

    def test_cut_number_in_a_full_last_line_is_skipped_too(self, tmp_path: Path) -> None:
        # "9.81" cut to "9.8" is still a number: only the missing newline tells.
        p = put(tmp_path, "t,ax,ay,az\n" + rows(3) + "0.030000,0.3,-0.2,9.8")
        with pytest.warns(ImuTempoWarning, match=":5: .*does not end with a newline"):
            rec = read_recording(p)
        assert len(rec) == 3 and rec.skipped_lines == (5,)

    def test_trailing_whitespace_without_newline_is_not_a_row(self, tmp_path: Path) -> None:
        rec, caught = read_quiet(put(tmp_path, "t,ax,ay,az\n" + rows(3) + "  "))
        assert caught == [] and len(rec) == 3

    def test_text_in_an_extra_column_is_fine(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az,label\n0,0,0,9.8,rest\n0.01,0,0,9.8,rep 1\n")
        rec = read_recording(p)
        assert rec.extra_columns == ("label",) and len(rec) == 2

    def test_single_sample_needs_a_declared_rate(self, tmp_path: Path) -> None:
        with pytest.raises(RecordingError, match="sample_rate_hz"):
            read_recording(put(tmp_path, "t,ax,ay,az\n0,0,0,9.8\n"))
        rec = read_recording(put(tmp_path, "# sample_rate_hz: 50\nt,ax,ay,az\n0,0,0,9.8\n", "one.csv"))
        assert len(rec) == 1 and rec.fs_hz == 50.0


def error_for(tmp_path: Path, text: str | bytes, **kw: str) -> RecordingError:
    p = put(tmp_path, text)
    with pytest.raises(RecordingError) as info:
        read_recording(p, **kw)
    err = info.value
    assert str(err).startswith(str(p))
    assert err.path == str(p)
    return err


class TestReadRecordingErrors:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(RecordingError, match="cannot open"):
            read_recording(tmp_path / "nope.csv")

    def test_empty_file(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "")
        assert "empty" in str(err) and err.line is None

    def test_whitespace_only_file(self, tmp_path: Path) -> None:
        assert "empty" in str(error_for(tmp_path, "\n \n"))

    def test_metadata_only(self, tmp_path: Path) -> None:
        assert "no header" in str(error_for(tmp_path, "# sensor: x\n"))

    def test_header_only(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "# sensor: x\nt,ax,ay,az\n")
        assert "no data rows" in str(err) and "line 2" in str(err)

    def test_header_cut_short(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "# sensor: x\nt,ax,a")
        assert err.line == 2 and "ends at its header" in str(err) and "ay, az" in str(err)

    def test_only_row_unterminated(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n0,0,0,9.8")
        assert err.line == 2 and "newline" in str(err)

    def test_binary_file(self, tmp_path: Path) -> None:
        assert "binary" in str(error_for(tmp_path, b"\x00\x01\x02t,ax"))

    def test_missing_columns(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "# a: b\ntime,ax,y,az\n0,0,0,9.8\n")
        assert err.line == 2
        assert "missing column(s) t, ay" in str(err)
        assert "'time,ax,y,az'" in str(err)

    @pytest.mark.parametrize(("sep", "what"), [(";", "semicolons"), ("\t", "tabs")])
    def test_other_separators_name_the_map_that_reads_them(self, tmp_path: Path, sep: str, what: str) -> None:
        from imu_tempo.importers import load_any

        rows = "".join(sep.join(f"{v:.3f}".replace(".", ",") if sep == ";" else f"{v:.3f}" for v in (i / 100, 0.1, 0.0, 9.8))
                       + "\n" for i in range(20))
        text = sep.join(["t", "ax", "ay", "az"]) + "\n" + rows
        err = error_for(tmp_path, text)
        assert f"separated by {what}, not commas: read it as it is with --map t=t,ax=ax,ay=ay,az=az" in str(err)
        rec = load_any(str(tmp_path / "rec.csv"), mapping="t=t,ax=ax,ay=ay,az=az")  # what the message says works
        assert len(rec) == 20 and rec.accel[0, 2] == pytest.approx(9.8)

    def test_partial_gyro_columns(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az,gx,gy\n0,0,0,9.8,0,0\n")
        assert "gx, gy but not gz" in str(err)

    def test_duplicate_column(self, tmp_path: Path) -> None:
        assert "'ax' appears twice" in str(error_for(tmp_path, "t,ax,ay,az,ax\n0,0,0,9.8,0\n"))

    def test_non_numeric_cell(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(3) + "0.03,0.1,0..2,9.8\n" + rows(2, t0=1))
        assert err.line == 5
        assert "column 'ay': '0..2' is not a number" in str(err)

    def test_empty_cell(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(2) + "0.03,0.1,,9.8\n")
        assert err.line == 4 and "'ay' is empty" in str(err)

    @pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf"])
    def test_non_finite(self, tmp_path: Path, bad: str) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(2) + f"0.03,0.1,0.2,{bad}\n" + rows(2, t0=1))
        assert err.line == 4 and "'az'" in str(err) and "NaN and infinite" in str(err)

    def test_nan_time(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(2) + "nan,0.1,0.2,9.8\n")
        assert err.line == 4 and "'t'" in str(err)

    def test_time_backwards(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(3) + "\n0.015,0,0,9.8\n")
        assert err.line == 6
        assert "time goes backwards: t=0.015 here, t=0.02 on line 4" in str(err)

    def test_time_repeats(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(3) + "0.02,0,0,9.8\n")
        assert err.line == 5 and "time repeats: t=0.02 here, t=0.02 on line 4" in str(err)

    @pytest.mark.parametrize("line", ["0.03,0.1,0.2\n", "0.03,0.1,0.2,9.8,1\n"])
    def test_wrong_cell_count(self, tmp_path: Path, line: str) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(3) + line + rows(1, t0=1))
        assert err.line == 5 and "but the header has 4" in str(err)

    def test_comment_inside_data_is_an_error(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "t,ax,ay,az\n" + rows(2) + "# set 2\n" + rows(2, t0=1))
        assert err.line == 4

    @pytest.mark.parametrize("value", ["abc", "0", "-5", "inf"])
    def test_bad_declared_rate(self, tmp_path: Path, value: str) -> None:
        err = error_for(tmp_path, f"# sample_rate_hz: {value}\nt,ax,ay,az\n" + rows(3))
        assert err.line == 1 and "sample_rate_hz" in str(err)

    def test_declared_rate_contradicted_by_the_data(self, tmp_path: Path) -> None:
        err = error_for(tmp_path, "# sample_rate_hz: 50\nt,ax,ay,az\n" + rows(10, fs_hz=100))
        assert err.line == 1 and "100 Hz" in str(err)

    def test_error_in_a_large_file_names_the_line(self, tmp_path: Path) -> None:
        t, a, g = at_rest(5000)
        p = tmp_path / "big.csv"
        write_recording(p, t_s=t, accel=a, gyro=g)
        lines = p.read_text().splitlines(keepends=True)
        lines[3001] = lines[3001].replace(",", ",x", 1)
        p.write_text("".join(lines))
        with pytest.raises(RecordingError) as info:
            read_recording(p)
        assert info.value.line == 3002 and "'t'" not in str(info.value) and "'ax'" in str(info.value)


class TestUnits:
    def test_g_argument(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az\n0,0.1,0,1.0\n0.01,0,0,1.0\n")
        rec = read_recording(p, accel_unit="g")
        np.testing.assert_allclose(rec.accel[0], [0.1 * G, 0, G])

    def test_mg_and_deg_per_s(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az,gx,gy,gz\n0,0,0,1000,90,0,-180\n0.01,0,0,1000,0,0,0\n")
        rec = read_recording(p, accel_unit="mg", gyro_unit="deg/s")
        np.testing.assert_allclose(rec.accel[0], [0, 0, G])
        assert rec.gyro is not None
        np.testing.assert_allclose(rec.gyro[0], [math.pi / 2, 0, -math.pi])

    def test_units_declared_in_the_file(self, tmp_path: Path) -> None:
        text = "# accel_unit: g\n# gyro_unit: deg/s\nt,ax,ay,az,gx,gy,gz\n0,0,0,1,180,0,0\n0.01,0,0,1,0,0,0\n"
        rec = read_recording(put(tmp_path, text))
        np.testing.assert_allclose(rec.accel[0], [0, 0, G])
        assert rec.gyro is not None and rec.gyro[0, 0] == pytest.approx(math.pi)

    def test_argument_wins_over_the_file(self, tmp_path: Path) -> None:
        text = "# accel_unit: mg\nt,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n"
        rec = read_recording(put(tmp_path, text), accel_unit="g")
        np.testing.assert_allclose(rec.accel[:, 2], G)

    def test_unit_names_are_case_and_space_tolerant(self, tmp_path: Path) -> None:
        rec = read_recording(put(tmp_path, "# accel_unit:  G \nt,ax,ay,az\n0,0,0,1\n0.01,0,0,1\n"))
        np.testing.assert_allclose(rec.accel[:, 2], G)

    def test_unknown_unit_argument(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az\n" + rows(2))
        with pytest.raises(ConfigError, match=r"accel_unit 'ft/s\^2' is not supported; use one of 'm/s\^2', 'g', 'mg'"):
            read_recording(p, accel_unit="ft/s^2")
        with pytest.raises(ConfigError, match="gyro_unit 'rpm'.*'rad/s', 'deg/s'"):
            read_recording(p, gyro_unit="rpm")

    def test_unknown_unit_in_the_file(self, tmp_path: Path) -> None:
        p = put(tmp_path, "# sensor: x\n# gyro_unit: rev/min\nt,ax,ay,az\n" + rows(2))
        with pytest.raises(ConfigError, match=r"rec\.csv:2: '# gyro_unit: rev/min' is not a supported unit"):
            read_recording(p)

    def test_g_data_read_as_m_s2(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az\n" + rows(20, az=1.0))
        with pytest.raises(UnitError, match="--accel-unit g") as info:
            read_recording(p)
        assert "about 9.81" in str(info.value) and str(info.value).startswith(str(p))

    def test_mg_data_read_as_m_s2(self, tmp_path: Path) -> None:
        with pytest.raises(UnitError, match="--accel-unit mg"):
            read_recording(put(tmp_path, "t,ax,ay,az\n" + rows(20, az=1000.0)))

    def test_m_s2_data_declared_g(self, tmp_path: Path) -> None:
        p = put(tmp_path, "t,ax,ay,az\n" + rows(20, az=9.81))
        with pytest.raises(UnitError, match="drop --accel-unit g"):
            read_recording(p, accel_unit="g")

    def test_m_s2_data_mislabelled_in_the_file(self, tmp_path: Path) -> None:
        p = put(tmp_path, "# accel_unit: g\nt,ax,ay,az\n" + rows(20, az=9.81))
        with pytest.raises(UnitError, match="'# accel_unit: g' on line 1.*fix or remove the file's accel_unit line"):
            read_recording(p)

    def test_gravity_removed(self, tmp_path: Path) -> None:
        # Linear acceleration (gravity removed): magnitude about 1.5 m/s^2 like g data, but zero mean.
        rng = np.random.default_rng(1)
        write_recording(tmp_path / "lin.csv", t_s=np.arange(200) / 100, accel=rng.normal(0, 1.0, (200, 3)))
        with pytest.raises(UnitError, match="mean is near zero, as if gravity was removed") as info:
            read_recording(tmp_path / "lin.csv")
        assert "--accel-unit g" not in str(info.value)

    def test_no_unit_fits(self, tmp_path: Path) -> None:
        with pytest.raises(UnitError, match="No supported unit gives about 9.81.*gravity not removed"):
            read_recording(put(tmp_path, "t,ax,ay,az\n0,0.01,0,0.01\n0.01,0.01,0,0.02\n"))

    def test_movement_keeps_the_median_in_band(self, tmp_path: Path) -> None:
        # A third of the samples in hard movement (3 g) and a third near free fall: still m/s^2.
        az = np.r_[np.full(40, 9.81), np.linspace(29.0, 31.0, 30), np.full(30, 1.0)]
        t = np.arange(100) / 100
        write_recording(tmp_path / "moving.csv", t_s=t, accel=np.column_stack([np.zeros(100), np.zeros(100), az]))
        assert len(read_recording(tmp_path / "moving.csv")) == 100

    @pytest.mark.parametrize(("unit", "scale"), [("ms", 1e3), ("us", 1e6)])
    def test_time_in_ms_or_us_read_as_seconds_names_the_unit(self, tmp_path: Path, unit: str, scale: float) -> None:
        t, accel, _ = at_rest(200)
        p = tmp_path / "rec.csv"
        write_recording(p, t_s=t, accel=accel)
        text = p.read_text().splitlines()
        k = text.index("t,ax,ay,az")
        rows = [",".join([f"{float(r.split(',')[0]) * scale:.3f}", *r.split(",")[1:]]) for r in text[k + 1 :]]
        p.write_text("\n".join(text[: k + 1] + rows) + "\n")
        with pytest.raises(UnitError, match=rf"rec\.csv: time looks mis-scaled: .* In {unit} it is 100 Hz: pass --time-unit {unit}"):
            read_recording(p)
        rec = read_recording(p, time_unit=unit)
        assert rec.fs_hz == pytest.approx(100.0, rel=1e-6) and rec.t_s[0] == pytest.approx(t[0], abs=1e-6)
        p.write_text(f"# time_unit: {unit}\n" + p.read_text())
        assert read_recording(p).fs_hz == pytest.approx(100.0, rel=1e-6)

    def test_a_time_no_unit_explains_is_named(self, tmp_path: Path) -> None:
        body = "".join(f"{i * 2e-6:.7f},0,0,9.8\n" for i in range(5))  # 500 kHz, and more in any other unit
        with pytest.raises(UnitError, match="No time unit gives a plausible rate: check that t is the time column"):
            read_recording(put(tmp_path, "t,ax,ay,az\n" + body))

    def test_the_writer_writes_seconds(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="time_unit"):
            write_recording(tmp_path / "x.csv", t_s=np.arange(3) / 10, accel=np.ones((3, 3)), metadata={"time_unit": "ms"})

    def test_gyro_in_deg_per_s_read_as_rad_per_s(self, tmp_path: Path) -> None:
        body = "".join(f"{i / 100:.2f},0,0,9.8,{200 + i},0,0\n" for i in range(50))
        with pytest.raises(UnitError, match="--gyro-unit deg/s"):
            read_recording(put(tmp_path, "t,ax,ay,az,gx,gy,gz\n" + body))


# ---------------------------------------------------------------------------


class TestSaturation:
    """A sensor whose range is too small for the movement clips it: the reader says so."""

    def _swing(self, tmp_path: Path, *, full_scale_g: float | None, gyro_limit: float | None = None) -> Path:
        fs = 100.0
        t = np.arange(1000) / fs
        a = np.zeros((t.size, 3))
        a[:, 2] = G + 2.5 * G * np.maximum(0.0, np.sin(2 * np.pi * t)) ** 4  # peaks of 3.5 g, once a second
        w = np.column_stack([np.zeros_like(t), np.zeros_like(t), 6.0 * np.sin(2 * np.pi * t)])  # about gravity
        if full_scale_g is not None:
            a = np.clip(a, -full_scale_g * G, full_scale_g * G)
        if gyro_limit is not None:
            w = np.clip(w, -gyro_limit, gyro_limit)
        p = tmp_path / "swing.csv"
        write_recording(p, t_s=t, accel=a, gyro=w)
        return p

    def test_an_accelerometer_at_its_limit_is_named_with_the_level_and_the_time(self, tmp_path: Path) -> None:
        p = self._swing(tmp_path, full_scale_g=2.0)
        rec, caught = read_quiet(p)
        msgs = [str(c.message) for c in caught if issubclass(c.category, ImuTempoWarning)]
        assert len(msgs) == 1, msgs
        assert "swing.csv" in msgs[0] and "accelerometer is saturated" in msgs[0] and "+-2.00 g" in msgs[0]
        assert "first at t = 0.1" in msgs[0] and "+-8 g" in msgs[0]
        assert rec.accel.shape[0] == 1000  # nothing is dropped: the data are what they are

    def test_a_gyroscope_at_its_limit_is_named_too(self, tmp_path: Path) -> None:
        _, caught = read_quiet(self._swing(tmp_path, full_scale_g=None, gyro_limit=math.radians(250)))
        msgs = [str(c.message) for c in caught]
        assert len(msgs) == 1 and "gyroscope is saturated" in msgs[0] and "+-250 deg/s" in msgs[0]

    def test_peaks_within_range_and_a_quiet_axis_are_not_saturation(self, tmp_path: Path) -> None:
        _, caught = read_quiet(self._swing(tmp_path, full_scale_g=None))
        assert caught == []
        # a resting axis repeats its largest value all the time, far below any sensor's range
        p = put(tmp_path, "t,ax,ay,az\n" + "".join(f"{i / 100:.2f},0,0,9.81\n" for i in range(50)), name="still.csv")
        assert read_quiet(p)[1] == []


class TestFindGaps:
    def test_none(self) -> None:
        assert find_gaps(np.arange(100) / 100, fs_hz=100.0) == []
        assert find_gaps(np.array([]), fs_hz=100.0) == []
        assert find_gaps(np.array([1.0]), fs_hz=100.0) == []

    def test_jitter_below_one_and_a_half_periods_is_not_a_gap(self) -> None:
        t = np.array([0.0, 0.01, 0.0249, 0.03, 0.04])
        assert find_gaps(t, fs_hz=100.0) == []

    def test_gaps(self) -> None:
        t = np.r_[np.arange(10) / 100, 0.09 + 0.016, 0.5 + np.arange(5) / 100]
        gaps = find_gaps(t, fs_hz=100.0)
        assert gaps == [Gap(start_s=0.09, end_s=0.106, missing=1), Gap(start_s=0.106, end_s=0.5, missing=38)]
        assert gaps[1].duration_s == pytest.approx(0.394)

    @pytest.mark.parametrize("fs", [0, -1.0, float("nan"), float("inf")])
    def test_bad_rate(self, fs: float) -> None:
        with pytest.raises(ConfigError, match="fs_hz"):
            find_gaps(np.arange(3.0), fs_hz=fs)

    def test_recording_gaps_and_reader_does_not_fill(self, tmp_path: Path) -> None:
        p = put(tmp_path, "# sample_rate_hz: 100\nt,ax,ay,az\n" + rows(5) + rows(5, t0=1.0))
        rec = read_recording(p)
        assert len(rec) == 10
        assert rec.gaps() == [Gap(start_s=0.04, end_s=1.0, missing=95)]


class TestBlocks:
    @pytest.mark.parametrize("size", [1, 2, 7, 50, 1000])
    def test_concatenation_equals_the_arrays(self, tmp_path: Path, size: int) -> None:
        t, a, g = at_rest(50)
        write_recording(tmp_path / "b.csv", t_s=t, accel=a, gyro=g, metadata={"sample_rate_hz": "100"})
        rec = read_recording(tmp_path / "b.csv")
        blocks = list(rec.blocks(size))
        assert [len(b) for b in blocks[:-1]] == [size] * (len(blocks) - 1)
        assert 1 <= len(blocks[-1]) <= size
        assert all(b.fs_hz == 100.0 and b.dropped == 0 and b.host_time_s is None for b in blocks)
        np.testing.assert_array_equal(np.concatenate([b.t_s for b in blocks]), rec.t_s)
        np.testing.assert_array_equal(np.concatenate([b.accel for b in blocks]), rec.accel)
        np.testing.assert_array_equal(np.concatenate([b.gyro for b in blocks if b.gyro is not None]), rec.gyro)

    def test_without_gyro(self, tmp_path: Path) -> None:
        rec = read_recording(put(tmp_path, "t,ax,ay,az\n" + rows(5)))
        assert all(b.gyro is None for b in rec.blocks(2))

    def test_blocks_are_read_only_views(self, tmp_path: Path) -> None:
        rec = read_recording(put(tmp_path, "t,ax,ay,az\n" + rows(5)))
        b = next(rec.blocks(3))
        assert np.shares_memory(b.accel, rec.accel)
        with pytest.raises(ValueError):
            b.accel[0, 0] = 1.0

    @pytest.mark.parametrize("size", [0, -1, 2.5, True, None])
    def test_bad_block_size(self, tmp_path: Path, size: object) -> None:
        rec = read_recording(put(tmp_path, "t,ax,ay,az\n" + rows(5)))
        with pytest.raises(ConfigError, match="block_size"):
            list(rec.blocks(size))  # type: ignore[arg-type]


def test_unwritable_path_is_a_recording_error(tmp_path: Path) -> None:
    t, a, _ = at_rest(3)
    missing_dir = tmp_path / "no" / "such" / "dir.csv"
    with pytest.raises(RecordingError, match="cannot write the recording"):
        write_recording(missing_dir, t_s=t, accel=a)
    with pytest.raises(RecordingError, match="cannot create the recording"):
        RecordingWriter(missing_dir, has_gyro=False)


def test_no_leftover_partial_file_on_overwrite(tmp_path: Path) -> None:
    t, a, _ = at_rest(3)
    p = tmp_path / "x.csv"
    write_recording(p, t_s=t, accel=a)
    write_recording(p, t_s=t + 1, accel=a)
    assert sorted(os.listdir(tmp_path)) == ["x.csv"]
    assert read_recording(p).t_s[0] == pytest.approx(101.0)
