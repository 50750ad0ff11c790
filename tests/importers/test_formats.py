"""Each importer on a fixture written from the app's column specification, and on bad files.

The fixtures (``fixtures/``) hold a sensor at rest: +1 g on z (9.8 m/s^2 or 0.999 g ...),
a small tilt on x/y, and a gyroscope whose x axis is a ramp, often at half the
accelerometer's rate, so that interpolation onto the accelerometer's clock is checked
against exact values.
"""

from __future__ import annotations

import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from imu_tempo.errors import ConfigError, ImuTempoWarning, RecordingError, UnitError
from imu_tempo.importers import detect_format, group_inputs, load_any, parse_mapping
from imu_tempo.sources.recording import STANDARD_GRAVITY as G

FIX = Path(__file__).parent / "fixtures"
MB_ACC = FIX / "MetaWear_2024-06-10T08.53.20.000_C8E2D1F0A1B2_Accelerometer_100.000Hz_1.7.3.csv"
MB_GYR = FIX / "MetaWear_2024-06-10T08.53.20.000_C8E2D1F0A1B2_Gyroscope_50.000Hz_1.7.3.csv"
POLAR_ACC = FIX / "Polar_Sense_B5F1A022_20240610_085320_ACC.txt"
POLAR_GYR = FIX / "Polar_Sense_B5F1A022_20240610_085320_GYRO.txt"


class TestDetect:
    @pytest.mark.parametrize(
        "path, fmt",
        [
            (FIX / "phyphox_acceleration_with_g.csv", "phyphox"),
            (FIX / "phyphox_semicolon_decimal_comma.csv", "phyphox"),
            (FIX / "sensorlogger", "sensor-logger"),
            (FIX / "sensorlogger" / "Gyroscope.csv", "sensor-logger"),
            (MB_ACC, "metamotion"),
            (POLAR_ACC, "polar"),
        ],
    )
    def test_by_header(self, path, fmt):
        assert detect_format(path) == fmt

    def test_csv_v1(self):
        root = Path(__file__).parents[2]
        assert detect_format(root / "recordings" / "sim_jump_squat.csv") == "csv-v1"

    def test_unknown_names_the_formats(self, tmp_path):
        p = tmp_path / "x.csv"
        p.write_text("a,b,c\n1,2,3\n")
        with pytest.raises(RecordingError, match=r"phyphox.*Sensor Logger.*MetaBase.*Polar.*--map"):
            detect_format(p)


class TestPhyphox:
    def test_with_g_and_gyro_at_half_rate(self):
        rec = load_any([FIX / "phyphox_acceleration_with_g.csv", FIX / "phyphox_gyroscope.csv"])
        assert len(rec) == 20  # the NaN padding row is dropped, nothing else
        np.testing.assert_allclose(rec.t_s, np.arange(20) * 0.01, atol=1e-12)
        np.testing.assert_allclose(rec.accel, np.tile([0.5, -0.25, 9.8], (20, 1)))
        # gx is a ramp gx = t sampled every 20 ms: linear interpolation is exact at 10 ms
        np.testing.assert_allclose(rec.gyro[:, 0], rec.t_s, atol=1e-9)
        np.testing.assert_allclose(rec.gyro[:, 2], -0.5)
        assert rec.fs_hz == pytest.approx(100)
        assert rec.metadata["source_format"] == "phyphox"
        assert rec.metadata["import_notes"] == "gyroscope interpolated onto the accelerometer's clock"

    def test_semicolon_decimal_comma_dialect(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rec = load_any(FIX / "phyphox_semicolon_decimal_comma.csv")
        np.testing.assert_allclose(rec.accel[5], [0.5, -0.25, 9.8])
        assert rec.gyro is None

    def test_zip_export(self, tmp_path):
        z = tmp_path / "Acceleration with g 2024-06-10.zip"
        with zipfile.ZipFile(z, "w") as zf:
            zf.write(FIX / "phyphox_acceleration_with_g.csv", "Accelerometer.csv")
            zf.write(FIX / "phyphox_gyroscope.csv", "Gyroscope.csv")
            zf.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel 7"\n')
        assert detect_format(z) == "phyphox"
        rec = load_any(z)
        assert len(rec) == 20 and rec.gyro is not None

    def test_without_g_is_refused_with_the_reason(self):
        with pytest.raises(RecordingError, match=r"without g.*gravity.*Acceleration \(with g\)"):
            load_any(FIX / "phyphox_acceleration_without_g.csv")

    def test_gyro_alone_is_not_a_session(self):
        with pytest.raises(RecordingError, match=r"expected .*Acceleration x"):
            load_any(FIX / "phyphox_gyroscope.csv")

    def test_bad_cell_names_line_and_column(self, tmp_path):
        p = tmp_path / "bad.csv"
        lines = (FIX / "phyphox_acceleration_with_g.csv").read_text().splitlines()
        lines[4] = lines[4].replace("9.", "x.", 1)
        p.write_text("\n".join(lines) + "\n")
        with pytest.raises(RecordingError, match=r"bad\.csv:5: column .*not a number"):
            load_any(p)

    def test_forced_format_on_another_file_says_what_was_expected(self):
        with pytest.raises(RecordingError, match=r"not a phyphox export: expected \"Time \(s\)\".*header found"):
            load_any(POLAR_ACC, format="phyphox")


class TestSensorLogger:
    def test_folder_accelerometer_plus_gravity(self):
        rec = load_any(FIX / "sensorlogger")
        # specific force = Accelerometer (gravity removed) + Gravity, axes re-ordered from z,y,x
        expect = np.array([[0.0, 0.1 * (i % 2), 0.2] for i in range(20)]) + [0.5, -0.25, 9.8]
        np.testing.assert_allclose(rec.accel, expect, atol=1e-12)
        np.testing.assert_allclose(rec.gyro[:, 0], 0.01 * np.arange(20), atol=1e-12)
        # float64 holds epoch nanoseconds to ~0.3 us: far below any sample period
        np.testing.assert_allclose(rec.t_s, 0.05 + 0.01 * np.arange(20), atol=1e-6)
        assert rec.metadata["sensor"] == "Pixel 7" and rec.metadata["platform"] == "android"

    def test_files_and_zip_equal_folder(self, tmp_path):
        folder = load_any(FIX / "sensorlogger")
        names = ["Accelerometer.csv", "Gravity.csv", "Gyroscope.csv"]
        files = load_any([FIX / "sensorlogger" / n for n in names])
        z = tmp_path / "2024-06-10_08-53-20.zip"
        with zipfile.ZipFile(z, "w") as zf:
            for f in (FIX / "sensorlogger").iterdir():
                zf.write(f, f.name)
        zipped = load_any(z)
        for rec in (files, zipped):
            np.testing.assert_array_equal(rec.accel, folder.accel)
            np.testing.assert_array_equal(rec.t_s, folder.t_s)

    def test_ios_convention_is_negated(self, tmp_path):
        d = tmp_path / "ios"
        shutil.copytree(FIX / "sensorlogger", d)
        meta = (d / "Metadata.csv").read_text().replace("android", "ios")
        (d / "Metadata.csv").write_text(meta)
        for n in ("Accelerometer.csv", "Gravity.csv"):  # iOS: every axis the other sign
            lines = (d / n).read_text().splitlines()
            out = [lines[0]]
            for ln in lines[1:]:
                c = ln.split(",")
                out.append(",".join(c[:2] + [repr(-float(v)) for v in c[2:]]))
            (d / n).write_text("\n".join(out) + "\n")
        np.testing.assert_allclose(load_any(d).accel, load_any(FIX / "sensorlogger").accel, atol=1e-12)

    def test_accelerometer_without_gravity_file_is_refused(self):
        with pytest.raises(RecordingError, match=r"gravity removed.*Gravity\.csv.*TotalAcceleration"):
            load_any([FIX / "sensorlogger" / "Accelerometer.csv", FIX / "sensorlogger" / "Gyroscope.csv"])

    def test_duplicated_rows_are_dropped_with_a_warning(self, tmp_path):
        d = tmp_path / "dup"
        shutil.copytree(FIX / "sensorlogger", d)
        lines = (d / "Accelerometer.csv").read_text().splitlines()
        lines.insert(6, lines[5])
        (d / "Accelerometer.csv").write_text("\n".join(lines) + "\n")
        with pytest.warns(ImuTempoWarning, match="1 exact duplicate"):
            rec = load_any(d)
        assert len(rec) == 20


class TestMetaMotion:
    def test_accel_in_g_gyro_in_deg_s_at_half_rate(self):
        rec = load_any([MB_ACC, MB_GYR])
        np.testing.assert_allclose(rec.accel, np.tile([0.051 * G, -0.025 * G, 0.999 * G], (20, 1)))
        # gyro x = 10 deg/s per 10 ms stamp index at 50 Hz: interpolated exactly at 100 Hz
        np.testing.assert_allclose(np.rad2deg(rec.gyro[:, 0]), 10 * np.arange(20), atol=1e-9)
        np.testing.assert_allclose(np.rad2deg(rec.gyro[:, 2]), -90, atol=1e-9)
        np.testing.assert_allclose(rec.t_s, np.arange(20) * 0.01, atol=1e-12)
        assert rec.fs_hz == 100 and rec.metadata["start_epoch_ms"] == "1718000000000"

    def test_coarse_clock_repeats_are_spread_not_dropped(self, tmp_path):
        p = tmp_path / "acc_Accelerometer_1600Hz.csv"
        rows = ["epoc (ms),timestamp (+0000),elapsed (s),x-axis (g),y-axis (g),z-axis (g)"]
        for i in range(40):  # 1600 Hz with a millisecond clock: stamps repeat
            ms = 1718000000000 + int(i * 0.625)
            rows.append(f"{ms},x,{i * 0.000625:.3f},0.0,{0.001 * i:.3f},1.000")
        p.write_text("\n".join(rows) + "\n")
        rec = load_any(p)
        assert len(rec) == 40 and (np.diff(rec.t_s) > 0).all()
        assert "spread evenly" in rec.metadata["import_notes"]

    def test_gyro_alone_is_refused(self):
        with pytest.raises(RecordingError, match="no MetaMotion accelerometer file"):
            load_any(MB_GYR)

    def test_wrong_unit_is_caught(self, tmp_path):
        p = tmp_path / "m_Accelerometer.csv"
        text = MB_ACC.read_text().replace("0.999", "9.797").replace("0.051", "0.5")  # m/s^2 written as g
        p.write_text(text)
        with pytest.raises(UnitError, match=r"median \|acceleration\|.*x-axis \(g\)"):
            load_any(p)


class TestPolar:
    def test_acc_mg_and_gyro_dps(self):
        rec = load_any([POLAR_ACC, POLAR_GYR])
        np.testing.assert_allclose(rec.accel[0], np.array([51, -25, 999]) * G / 1000)
        np.testing.assert_allclose(np.rad2deg(rec.gyro[0]), [10, 0, -90])
        np.testing.assert_allclose(np.diff(rec.t_s), 0.019230769, atol=1e-6)
        assert rec.metadata["sensor"] == "Polar Sense B5F1A022"
        assert rec.metadata["recorded_at"] == "2024-06-10T08:53:20.000"

    def test_bad_value_names_the_line(self, tmp_path):
        p = tmp_path / "Polar_H10_X_ACC.txt"
        lines = POLAR_ACC.read_text().splitlines()
        lines[3] = lines[3].rsplit(";", 1)[0] + ";"
        p.write_text("\n".join(lines) + "\n")
        with pytest.raises(RecordingError, match=r"Polar_H10_X_ACC\.txt:4: column 'Z \[mg\]' is empty"):
            load_any(p)


class TestGeneric:
    MAP = "t=Time [ms]:ms,ax=AccX:g,ay=AccY:g,az=AccZ:g,gx=GyroX:deg/s,gy=GyroY:deg/s,gz=#7:deg/s"

    def test_mapping_with_units_and_position(self):
        rec = load_any(FIX / "generic_logger.csv", mapping=parse_mapping(self.MAP))
        np.testing.assert_allclose(rec.t_s, 1.0 + 0.01 * np.arange(20))
        np.testing.assert_allclose(rec.accel[0], [0.051 * G, -0.025 * G, 0.999 * G])
        np.testing.assert_allclose(np.rad2deg(rec.gyro[:, 0]), 0.5 * np.arange(20))
        np.testing.assert_allclose(np.rad2deg(rec.gyro[:, 2]), -90)

    def test_missing_column_lists_the_header(self):
        with pytest.raises(RecordingError, match=r"no column 'AccW'; header found: 'Time \[ms\];AccX"):
            load_any(FIX / "generic_logger.csv", mapping=self.MAP.replace("az=AccZ", "az=AccW"))

    @pytest.mark.parametrize(
        "spec, msg",
        [
            ("t=a,ax=b,ay=c", "must name the column of az"),
            ("t=a,ax=b,ay=c,az=d,gx=e", "gx, gy and gz together"),
            ("t=a:min,ax=b,ay=c,az=d", "unit 'min'"),
            ("t=a,ax=b:ft/s^2,ay=c,az=d", "unit 'ft/s\\^2'"),
            ("t=a,ax=b,ay=c,az=d,q=e", "unknown target"),
        ],
    )
    def test_bad_mapping(self, spec, msg):
        with pytest.raises(ConfigError, match=msg):
            parse_mapping(spec)

    def test_wrong_default_unit_is_caught(self):
        with pytest.raises(UnitError, match="ax=COLUMN:g"):
            load_any(FIX / "generic_logger.csv", mapping="t=Time [ms]:ms,ax=AccX,ay=AccY,az=AccZ")


class TestGrouping:
    def test_folder_groups_sessions_and_skips_strangers(self, tmp_path):
        for f in (MB_ACC, MB_GYR, POLAR_ACC, POLAR_GYR, FIX / "phyphox_acceleration_with_g.csv"):
            shutil.copy(f, tmp_path / f.name)
        shutil.copytree(FIX / "sensorlogger", tmp_path / "sl_session")
        (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
        groups, skipped = group_inputs([tmp_path])
        as_names = sorted(sorted(Path(p).name for p in g) for g in groups)
        assert as_names == sorted([
            sorted([MB_ACC.name, MB_GYR.name]), sorted([POLAR_ACC.name, POLAR_GYR.name]),
            ["phyphox_acceleration_with_g.csv"], ["sl_session"],
        ])
        assert [Path(s).name for s in skipped] == ["notes.csv"]

    def test_unit_flag_on_a_self_describing_format_is_an_error(self):
        with pytest.raises(ConfigError, match="state their units"):
            load_any(POLAR_ACC, accel_unit="g")
