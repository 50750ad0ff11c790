"""Gyroscope axis conventions: the check that the gyroscope turns the way the accelerometer sees it."""

from __future__ import annotations

import asyncio
import functools
import json

import numpy as np
import pytest

from imu_tempo.cli import main
from imu_tempo.errors import ConfigError, UnitError
from imu_tempo.simulate import EXERCISES, SimulatedSession, simulate_session
from imu_tempo.sources.axes import CONVENTIONS, check_gyro_axes, format_gyro_axes, parse_gyro_axes
from imu_tempo.sources.recording import ReplaySource, read_recording, write_recording

NEGATED = np.diag([-1.0, -1.0, -1.0])
X_FLIPPED = np.diag([-1.0, 1.0, 1.0])  # a left-handed gyroscope
XY_SWAPPED = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
PLACED = [(ex, pl) for ex, p in EXERCISES.items() for pl in p.placements]


@functools.lru_cache(maxsize=None)
def sim(exercise: str, placement: str, seed: int = 2, fs_hz: float = 50.0) -> SimulatedSession:
    return simulate_session(exercise=exercise, placement=placement, seed=seed, fs_hz=fs_hz, noise_mps2=0.3,
                            gyro_noise_rad_s=0.01)


class TestSpec:
    def test_every_convention_reads_back(self):
        specs = {format_gyro_axes(m) for m in CONVENTIONS}
        assert len(specs) == 48 and format_gyro_axes(CONVENTIONS[0]) == "x,y,z"
        for spec in specs:
            assert format_gyro_axes(parse_gyro_axes(spec)) == spec

    def test_a_map_picks_columns(self):
        m = parse_gyro_axes(" y , x , -Z ")
        assert (np.array([1.0, 2.0, 3.0]) @ m.T).tolist() == [2.0, 1.0, -3.0]
        assert parse_gyro_axes("none") is None

    @pytest.mark.parametrize("bad", ["x,y", "x,x,z", "a,b,c", "--x,y,z", "", "x,y,z,x"])
    def test_a_bad_map_is_named(self, bad):
        with pytest.raises(ConfigError, match=f"gyro axes {bad!r}"):
            parse_gyro_axes(bad)


class TestCheck:
    @pytest.mark.parametrize(("exercise", "placement"), PLACED)
    def test_a_gyroscope_in_the_accelerometers_axes_passes(self, exercise, placement):
        s = sim(exercise, placement)
        check_gyro_axes(s.t_s, s.accel, s.gyro, path="x.csv", source="test")

    @pytest.mark.parametrize(
        ("exercise", "placement", "flip", "fix"),
        [
            ("kettlebell_swing", "wrist", NEGATED, "-x,-y,-z"),
            ("push_press", "wrist", X_FLIPPED, "-x,y,z"),
            ("pull_up", "upper arm", XY_SWAPPED, "y,x,z"),
            ("jump_squat", "lower back", NEGATED, "-x,-y,-z"),
            ("pull_up", "wrist", NEGATED, "-x,-y,-z"),
        ],
    )
    def test_another_convention_stops_and_names_the_map_that_restores_it(self, exercise, placement, flip, fix):
        s = sim(exercise, placement)
        with pytest.raises(UnitError) as exc:
            check_gyro_axes(s.t_s, s.accel, s.gyro @ flip.T, path="x.csv", source="test")
        assert f"--gyro-axes={fix}" in str(exc.value) and "x.csv" in str(exc.value)
        assert np.array_equal((s.gyro @ flip.T) @ parse_gyro_axes(fix).T, s.gyro)  # the map it names is the fix

    def test_a_long_recording_is_judged_where_the_sensor_turns(self):
        """Only 5 minutes are checked: those where the sensor turned most, not the first (idle) ones."""
        s = sim("kettlebell_swing", "wrist")
        idle = 8 * 60 * 50  # 8 minutes lying still before the session
        rng = np.random.default_rng(1)
        t = np.concatenate([np.arange(idle) / 50.0, s.t_s - s.t_s[0] + idle / 50.0])
        accel = np.concatenate([rng.normal(0.0, 0.05, (idle, 3)) + s.accel[0], s.accel])
        gyro = np.concatenate([rng.normal(0.0, 0.003, (idle, 3)), s.gyro]) @ NEGATED.T
        with pytest.raises(UnitError, match="--gyro-axes=-x,-y,-z"):
            check_gyro_axes(t, accel, gyro, path="x.csv", source="test")

    def test_a_sensor_that_hardly_turns_is_not_judged(self):
        """A still sensor (or a chest strap on pull-ups) gives no evidence either way: every map fits alike."""
        rng = np.random.default_rng(0)
        t = np.arange(3000) / 100.0
        accel = rng.normal(0.0, 0.5, (t.size, 3)) + [0.0, 0.0, 9.81]
        gyro = rng.normal(0.0, 0.3, (t.size, 3))
        for flip in (np.eye(3), NEGATED, XY_SWAPPED):
            check_gyro_axes(t, accel, gyro @ flip.T, path="x.csv", source="test")


class TestReading:
    def _write(self, tmp_path, flip, metadata=None, name="flipped.csv"):
        s = sim("pull_up", "upper arm")
        path = tmp_path / name
        write_recording(path, t_s=s.t_s, accel=s.accel, gyro=s.gyro @ flip.T)
        if metadata:
            text = path.read_text()
            path.write_text(f"# gyro_axes: {metadata}\n" + text)
        return s, path

    def test_the_reader_stops_on_another_convention_and_reads_it_with_the_map(self, tmp_path):
        s, path = self._write(tmp_path, NEGATED)
        with pytest.raises(UnitError, match="--gyro-axes=-x,-y,-z"):
            read_recording(path)
        rec = read_recording(path, gyro_axes="-x,-y,-z")
        assert np.allclose(rec.gyro, s.gyro, atol=1e-5) and not rec.gyro.flags.writeable
        assert read_recording(path, gyro_axes="none").gyro is None

    def test_the_file_can_say_its_convention(self, tmp_path):
        s, path = self._write(tmp_path, XY_SWAPPED, metadata="y,x,z")
        assert np.allclose(read_recording(path).gyro, s.gyro, atol=1e-5)
        _, bad = self._write(tmp_path, XY_SWAPPED, metadata="y,y,z", name="bad.csv")
        with pytest.raises(ConfigError, match=r"bad\.csv: '# gyro_axes: \.\.\.' on line 1"):
            read_recording(bad)

    def test_the_writer_refuses_to_label_a_file_with_another_convention(self, tmp_path):
        with pytest.raises(ConfigError, match="gyro_axes"):
            write_recording(tmp_path / "x.csv", t_s=np.arange(3) / 10, accel=np.ones((3, 3)), gyro=np.zeros((3, 3)),
                            metadata={"gyro_axes": "-x,-y,-z"})

    def test_analyze_names_the_flag_and_with_it_gives_the_original_analysis(self, tmp_path, capsys):
        s, path = self._write(tmp_path, NEGATED)
        good = tmp_path / "good.csv"
        write_recording(good, t_s=s.t_s, accel=s.accel, gyro=s.gyro)
        assert main(["analyze", str(path)]) == 2
        err = capsys.readouterr().err
        assert "flipped.csv" in err and "--gyro-axes=-x,-y,-z" in err and "Traceback" not in err
        assert main(["analyze", str(path), "--gyro-axes=-x,-y,-z", "--json", "--measure", "concentric"]) == 0
        fixed = json.loads(capsys.readouterr().out)
        assert main(["analyze", str(good), "--json", "--measure", "concentric"]) == 0
        original = json.loads(capsys.readouterr().out)
        assert fixed["sets"] == original["sets"] and len(original["sets"][0]["reps"]) == len(s.truth)

    def test_live_reads_the_gyroscope_through_the_map(self, tmp_path):
        """The same map for a live source: blocks from a real replayed file come out mapped."""
        from imu_tempo.live import _MappedGyro

        s, path = self._write(tmp_path, NEGATED)
        rec = read_recording(path, gyro_axes="x,y,z")  # as the device sends it

        async def blocks(m):
            out = []
            async with _MappedGyro(ReplaySource(rec, speed=None, block_size=64), m) as src:
                async for b in src:
                    out.append(b)
            return out

        mapped = asyncio.run(blocks(parse_gyro_axes("-x,-y,-z")))
        assert np.allclose(np.concatenate([b.gyro for b in mapped]), s.gyro, atol=1e-5)
        assert all(b.gyro is None for b in asyncio.run(blocks(None)))


class TestDeadGyroscope:
    """A gyroscope column of zeros (switched off, or exported empty) carries nothing: left out, said."""

    def test_a_constant_gyroscope_on_a_turning_sensor_is_left_out_with_a_warning(self, tmp_path):
        s = sim("kettlebell_swing", "wrist")
        path = tmp_path / "dead.csv"
        write_recording(path, t_s=s.t_s, accel=s.accel, gyro=np.zeros_like(s.gyro))
        with pytest.warns(Warning, match=r"dead\.csv: the gyroscope reads 0, 0, 0 rad/s throughout"):
            rec = read_recording(path)
        assert rec.gyro is None and len(rec.warnings) == 1 and "accelerometer alone" in rec.warnings[0]
        assert read_recording(path, gyro_axes="x,y,z").gyro is not None  # a given map is the user's call

    def test_a_still_sensor_keeps_its_gyroscope(self, tmp_path):
        t = np.arange(500) / 100.0
        path = tmp_path / "still.csv"
        write_recording(path, t_s=t, accel=np.tile([0.0, 0.0, 9.81], (t.size, 1)), gyro=np.zeros((t.size, 3)))
        assert read_recording(path).gyro is not None
