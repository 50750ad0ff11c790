"""The wire codecs, byte by byte: frames, COBS streams, text lines, time placement."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from imu_tempo.errors import PacketDecodeError, SourceError, UnitError
from imu_tempo.sources import wire
from imu_tempo.sources.wire import (
    FrameReader,
    FrameStream,
    HeaderFrame,
    SamplesFrame,
    TextFrame,
    TextLineReader,
    TextStream,
    WireDecoder,
    cobs_frame,
    crc16,
    decode_frame,
    detect_format,
    encode_frame,
    unwrap_u32,
)
from imu_tempo.types import SampleBlock, StatusEvent

HDR6 = HeaderFrame(fs_hz=400.0, channels=6, accel_g_per_lsb=16 / 32768, gyro_dps_per_lsb=2000 / 32768,
                   device_name="wrist-1")
HDR3 = HeaderFrame(fs_hz=100.0, channels=3, accel_g_per_lsb=8 / 32768)


def samples(seq: int, t0_us: int, n: int, ch: int = 6, value: int = 100) -> SamplesFrame:
    s = (np.arange(n * ch, dtype=np.int64).reshape(n, ch) + value).astype("<i2")
    return SamplesFrame(seq=seq, t0_us=t0_us, samples=s)


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


def blocks_of(items: list) -> list[SampleBlock]:
    return [b for b in items if isinstance(b, SampleBlock)]


class TestCrc:
    def test_check_value(self) -> None:
        """CRC-16/CCITT-FALSE of '123456789' is 0x29B1 (the catalogue check value)."""
        assert crc16(b"123456789") == 0x29B1

    def test_crc_is_last_two_bytes_little_endian(self) -> None:
        pkt = encode_frame(TextFrame("hi"))
        assert pkt[-2:] == struct.pack("<H", crc16(pkt[:-2]))


class TestFrames:
    def test_header_roundtrip(self) -> None:
        out = decode_frame(encode_frame(HDR6))
        assert isinstance(out, HeaderFrame)
        assert out.channels == 6 and out.device_name == "wrist-1"
        assert out.fs_hz == 400.0
        assert math.isclose(out.accel_g_per_lsb, 16 / 32768, rel_tol=1e-7)
        assert math.isclose(out.gyro_dps_per_lsb, 2000 / 32768, rel_tol=1e-7)

    def test_header_byte_layout(self) -> None:
        """The layout firmware_notes/packet_format.md documents, field by field."""
        pkt = encode_frame(HeaderFrame(fs_hz=100.0, channels=3, accel_g_per_lsb=0.5, device_name="ab"))
        assert pkt[:4] == bytes([0x01, 0x01, 0x03, 0x00])
        assert struct.unpack_from("<fff", pkt, 4) == (100.0, 0.5, 0.0)
        assert pkt[16] == 2 and pkt[17:19] == b"ab"
        assert len(pkt) == 17 + 2 + 2

    def test_samples_byte_layout(self) -> None:
        pkt = encode_frame(SamplesFrame(seq=0x1234, t0_us=0x89ABCDEF, samples=np.array([[1, -2, 3]], "<i2")))
        assert pkt[0] == 0x02
        assert struct.unpack_from("<HIB", pkt, 1) == (0x1234, 0x89ABCDEF, 1)
        assert struct.unpack_from("<hhh", pkt, 8) == (1, -2, 3)
        assert len(pkt) == 8 + 6 + 2

    def test_samples_roundtrip(self) -> None:
        f = samples(65535, 4_294_967_000, 10)
        out = decode_frame(encode_frame(f))
        assert isinstance(out, SamplesFrame)
        assert (out.seq, out.t0_us, out.n, out.channels) == (65535, 4_294_967_000, 10, 6)
        np.testing.assert_array_equal(out.samples, f.samples)

    def test_text_roundtrip(self) -> None:
        assert decode_frame(encode_frame(TextFrame("boot ok ✓"))) == TextFrame("boot ok ✓")

    @pytest.mark.parametrize(
        "packet, words",
        [
            (b"\x02\x00", "too short"),
            (encode_frame(TextFrame("x"))[:-1] + b"\x00", "CRC"),
            (with_crc(b"\x7f\x01\x02"), "unknown packet type 0x7F"),
            (with_crc(b"\x02\x01\x00\x00\x00\x00\x00\x01\x00\x00"), "channels"),
            (with_crc(b"\x02\x01\x00\x00\x00\x00\x00\x00"), "n = 0"),
            (with_crc(bytes([1, 9, 3, 0]) + struct.pack("<fffB", 100, 1, 0, 0)), "version 9"),
            (with_crc(bytes([1, 1, 6, 0]) + struct.pack("<fffB", 100, 1, 0, 0)), "gyro scale"),
            (with_crc(bytes([1, 1, 3, 0]) + struct.pack("<fffB", -5, 1, 0, 0)), "sample rate"),
            (with_crc(bytes([1, 1, 3, 0]) + struct.pack("<fffB", 100, 1, 0, 5) + b"ab"), "name length"),
        ],
    )
    def test_bad_packets_say_what_is_wrong(self, packet: bytes, words: str) -> None:
        with pytest.raises(PacketDecodeError, match=words):
            decode_frame(packet)

    def test_encode_rejects_what_does_not_fit(self) -> None:
        with pytest.raises(ValueError):
            encode_frame(HeaderFrame(fs_hz=100, channels=4, accel_g_per_lsb=1))
        with pytest.raises(ValueError):
            encode_frame(HeaderFrame(fs_hz=100, channels=3, accel_g_per_lsb=1, device_name="x" * 33))
        with pytest.raises(ValueError):
            encode_frame(SamplesFrame(seq=0, t0_us=0, samples=np.zeros((256, 3), "<i2")))


class TestUnwrap:
    def test_wraps_forward(self) -> None:
        assert unwrap_u32(5, previous=2**32 - 10) == 2**32 + 5
        assert unwrap_u32(5, previous=3 * 2**32 - 10) == 3 * 2**32 + 5

    def test_small_backward_step_stays_backward(self) -> None:
        assert unwrap_u32(100, previous=5000) == 100

    def test_first_value(self) -> None:
        assert unwrap_u32(7, previous=None) == 7


class TestFrameReader:
    def stream_bytes(self) -> tuple[bytes, list]:
        frames = [HDR6] + [samples(i, i * 10_000, 4) for i in range(20)] + [TextFrame("log")]
        return b"".join(cobs_frame(encode_frame(f)) for f in frames), frames

    @pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 10_000])
    def test_any_chunking_gives_the_same_frames(self, chunk: int) -> None:
        data, frames = self.stream_bytes()
        r = FrameReader()
        out = []
        for i in range(0, len(data), chunk):
            out += r.feed(data[i:i + chunk])
        assert len(out) == len(frames)
        assert [type(f) for f in out] == [type(f) for f in frames]
        assert r.corrupt_frames == 0 and r.garbage_bytes == 0

    def test_boot_garbage_is_counted_not_fatal(self) -> None:
        data, frames = self.stream_bytes()
        junk = b"rst:0x1 (POWERON)\r\nboot: \x00\xff\xfe\x00 ok\r\n"
        r = FrameReader()
        out = r.feed(junk + b"\x00" + data)
        assert len(out) == len(frames)
        assert r.garbage_bytes >= len(junk) - 2
        assert r.corrupt_frames == 0

    def test_corrupt_frame_is_skipped_and_reader_resyncs(self) -> None:
        data, frames = self.stream_bytes()
        enc = [cobs_frame(encode_frame(f)) for f in frames]
        bad = bytearray(enc[5])
        bad[3] ^= 0x55
        r = FrameReader()
        out = r.feed(b"".join(enc[:5]) + bytes(bad) + b"".join(enc[6:]))
        assert len(out) == len(frames) - 1
        assert r.corrupt_frames == 1
        assert "CRC" in (r.last_error or "") or "COBS" in (r.last_error or "")

    def test_text_between_frames_is_garbage_not_corruption(self) -> None:
        data, _ = self.stream_bytes()
        r = FrameReader()
        r.feed(data)
        r.feed(b"Guru Meditation Error: Core 1 panic'ed\r\n\x00")
        assert r.corrupt_frames == 0 and r.garbage_bytes > 30

    def test_runaway_without_delimiter_is_bounded(self) -> None:
        r = FrameReader()
        r.feed(b"\x01" * 10_000)
        assert r.garbage_bytes >= 10_000 - r.max_encoded
        assert len(r._buf) <= r.max_encoded


class TestTextLines:
    def test_parses_rows_and_header(self) -> None:
        r = TextLineReader()
        rows = r.feed(b"t_ms,ax,ay,az\r\n10,0.1,0.2,1.0\r\n20,0.1,0.2,1.0\r\n30,0")
        assert rows.shape == (2, 4)
        assert rows[0, 0] == 10_000.0  # microseconds
        assert r.header == "t_ms,ax,ay,az"
        rows = r.feed(b".5,0.5,1.5\n")
        assert rows.tolist() == [[30_000.0, 0.5, 0.5, 1.5]]

    def test_t_us_header_switches_the_time_unit(self) -> None:
        r = TextLineReader()
        rows = r.feed(b"t_us,ax,ay,az,gx,gy,gz\n2500,1,2,3,4,5,6\n")
        assert rows.tolist() == [[2500.0, 1, 2, 3, 4, 5, 6]]

    def test_fs_hint(self) -> None:
        r = TextLineReader()
        r.feed(b"# imu ready, fs_hz=416\n")
        assert r.fs_hint_hz == 416.0

    def test_garbage_lines_counted(self) -> None:
        r = TextLineReader()
        rows = r.feed(b"hello\n1,2,3,4\n1,2,x,4\n\xff\xfe\n1,2,3,4,5,6,7\n2,2,3,4\n")
        assert len(rows) == 2  # the 7-column line does not match the 4 columns seen first
        assert r.garbage_lines == 4


class TestDetect:
    def test_binary(self) -> None:
        frames = b"".join(cobs_frame(encode_frame(f)) for f in (HDR3, samples(0, 0, 1, 3)))
        assert detect_format(b"boot\r\n\x00" + frames) == "binary"
        # Without a delimiter after it, the boot text swallows the first frame: two more are needed.
        assert detect_format(b"boot\r\n" + frames) is None
        assert detect_format(b"boot\r\n" + frames + cobs_frame(encode_frame(samples(1, 10_000, 1, 3)))) == "binary"

    def test_text(self) -> None:
        assert detect_format(b"booting...\r\n0,0,0,1\r\n10,0,0,1\r\n20,0,0,1\r\n") == "text"

    def test_undecided(self) -> None:
        assert detect_format(b"ESP-ROM:esp32s3\r\nrst:0x1\r\n") is None
        assert detect_format(b"0,0,0,1\r\n") is None


class TestFrameStream:
    def feed(self, fs: FrameStream, frames: list, host: float = 0.0) -> list:
        out = []
        for f in frames:
            out += fs.feed(f, host_time_s=host)
            host += 0.01
        return out

    def test_units_and_time(self) -> None:
        fs = FrameStream(source_name="p")
        f = SamplesFrame(seq=0, t0_us=1_000_000, samples=np.array([[2048, 0, -2048, 0, 0, 16384]], "<i2"))
        b = blocks_of(self.feed(fs, [HDR6, f, samples(1, 1_002_500, 2)]))
        assert b[0].t_s.tolist() == [1.0]
        np.testing.assert_allclose(b[0].accel[0], [9.80665, 0, -9.80665])  # 2048 counts at 16 g = 1 g
        np.testing.assert_allclose(b[0].gyro[0, 2], 1000 * math.pi / 180)
        np.testing.assert_allclose(b[1].t_s, [1.0025, 1.005])
        assert b[1].fs_hz == 400.0 and b[1].dropped == 0

    def test_three_channels_have_no_gyro(self) -> None:
        fs = FrameStream(source_name="p")
        b = blocks_of(self.feed(fs, [HDR3, samples(0, 0, 3, ch=3)]))
        assert b[0].gyro is None and b[0].accel.shape == (3, 3)

    def test_sequence_gap_is_a_gap(self) -> None:
        fs = FrameStream(source_name="p")
        frames = [HDR6] + [samples(i, i * 10_000, 4) for i in range(5)]
        frames += [samples(i, i * 10_000, 4) for i in range(8, 10)]  # frames 5, 6, 7 lost
        b = blocks_of(self.feed(fs, frames))
        assert [x.dropped for x in b] == [0, 0, 0, 0, 0, 12, 0]
        assert b[5].t_s[0] == pytest.approx(0.08)  # device time, not merged
        assert fs.dropped_samples == 12 and fs.gaps == 1

    def test_sequence_wraps_without_a_gap(self) -> None:
        fs = FrameStream(source_name="p")
        b = blocks_of(self.feed(fs, [HDR6, samples(65535, 0, 4), samples(0, 10_000, 4)]))
        assert [x.dropped for x in b] == [0, 0]

    def test_u32_timestamp_wrap_is_unwrapped(self) -> None:
        fs = FrameStream(source_name="p")
        t0 = 2**32 - 5_000
        frames = [HDR6, samples(0, t0, 4), samples(1, (t0 + 10_000) % 2**32, 4), samples(2, (t0 + 20_000) % 2**32, 4)]
        b = blocks_of(self.feed(fs, frames))
        t = np.concatenate([x.t_s for x in b])
        assert np.all(np.diff(t) > 0)
        assert t[-1] == pytest.approx((t0 + 20_000 + 3 * 2500) / 1e6)
        assert [x.dropped for x in b] == [0, 0, 0]

    def test_samples_before_header_are_skipped_with_a_status(self) -> None:
        fs = FrameStream(source_name="/dev/ttyACM0")
        out = self.feed(fs, [samples(0, 0, 4), samples(1, 10_000, 4)])
        assert not blocks_of(out)
        st = [x for x in out if isinstance(x, StatusEvent)]
        assert len(st) == 1 and "header" in st[0].message and "every second" in st[0].message
        assert fs.frames_before_header == 2
        assert blocks_of(self.feed(fs, [HDR6, samples(2, 20_000, 4)]))

    def test_duplicate_frame_is_skipped(self) -> None:
        fs = FrameStream(source_name="p")
        f = samples(0, 0, 4)
        b = blocks_of(self.feed(fs, [HDR6, f, f, samples(1, 10_000, 4)]))
        assert len(b) == 2 and fs.duplicate_frames == 1

    def test_device_restart_keeps_time_increasing(self) -> None:
        fs = FrameStream(source_name="p")
        out = self.feed(fs, [HDR6] + [samples(i, 5_000_000 + i * 10_000, 4) for i in range(200, 210)])
        out += self.feed(fs, [HDR6, samples(0, 1_000, 4), samples(1, 11_000, 4)], host=3.0)
        t = np.concatenate([x.t_s for x in blocks_of(out)])
        assert np.all(np.diff(t) > 0)
        assert any(isinstance(x, StatusEvent) and x.state == "device_restarted" for x in out)
        assert fs.restarts == 1
        # Within the new epoch, spacing is still the device's.
        assert t[-1] - t[-5] == pytest.approx(4 * 0.0025)

    def test_reconnect_with_running_clock_measures_the_gap_on_the_device(self) -> None:
        fs = FrameStream(source_name="p")
        self.feed(fs, [HDR6] + [samples(i, i * 10_000, 4) for i in range(10)])
        fs.link_reset()
        out = self.feed(fs, [samples(110, 1_100_000, 4)], host=50.0)  # host says "much later": ignored
        b = blocks_of(out)
        assert b[0].dropped == 400 and b[0].t_s[0] == pytest.approx(1.1)
        assert fs.restarts == 0

    def test_timestamp_jitter_never_overlaps(self) -> None:
        fs = FrameStream(source_name="p")
        jitter = [0, 2600, -1400, 1900, -2400, 0]  # up to a period at 400 Hz
        frames = [HDR6] + [samples(i, i * 10_000 + j, 4) for i, j in enumerate(jitter)]
        b = blocks_of(self.feed(fs, frames))
        t = np.concatenate([x.t_s for x in b])
        assert np.all(np.diff(t) > 0) and sum(x.dropped for x in b) == 0 and fs.restarts == 0

    def test_rate_change_mid_session_is_an_error(self) -> None:
        fs = FrameStream(source_name="/dev/ttyACM0")
        self.feed(fs, [HDR6, samples(0, 0, 4)])
        with pytest.raises(SourceError, match="new session"):
            fs.feed(HeaderFrame(fs_hz=100.0, channels=6, accel_g_per_lsb=1e-3, gyro_dps_per_lsb=1e-2),
                    host_time_s=1.0)

    def test_channel_mismatch_is_an_error(self) -> None:
        fs = FrameStream(source_name="p")
        self.feed(fs, [HDR6])
        with pytest.raises(PacketDecodeError, match="header says 6"):
            fs.feed(samples(0, 0, 2, ch=3), host_time_s=0.0)


def text_rows(t_ms: list[float], a: tuple[float, float, float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    return np.array([[t * 1000.0, *a] for t in t_ms])


class TestTextStream:
    def test_units_rate_and_time(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=5)
        rows = text_rows([0, 10, 20, 30, 40, 50])
        b = blocks_of(ts.feed(rows, host_time_s=0.0))
        assert ts.fs_hz == 100.0
        np.testing.assert_allclose(b[0].t_s, np.arange(6) * 0.01)
        np.testing.assert_allclose(b[0].accel[0], [0, 0, 9.80665])
        assert b[0].gyro is None

    def test_rate_snaps_with_ms_quantised_stamps(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=20)
        t = np.floor(np.arange(40) * 2.5)  # millis() at 400 Hz: 0 2 5 7 10 ...
        ts.feed(text_rows(list(t)), host_time_s=0.0)
        assert ts.fs_hz == 400.0

    def test_gyro_unit(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", gyro_unit="deg/s", rate_rows=2)
        rows = np.array([[0, 0, 0, 1, 180, 0, 0], [10_000, 0, 0, 1, 0, 90, 0]], dtype=float)
        b = blocks_of(ts.feed(rows, host_time_s=0.0))
        np.testing.assert_allclose(b[0].gyro[:, :2], [[math.pi, 0], [0, math.pi / 2]])

    def test_wrong_unit_is_caught_with_the_flag_to_use(self) -> None:
        ts = TextStream(source_name="/dev/ttyACM0", rate_rows=5)  # m/s^2 declared, data in g
        with pytest.raises(UnitError, match="--accel-unit g"):
            ts.feed(text_rows([0, 10, 20, 30, 40]), host_time_s=0.0)

    def test_time_gap_is_a_gap(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        b = blocks_of(ts.feed(text_rows([0, 10, 20, 30, 70, 80]), host_time_s=0.0))
        assert [x.dropped for x in b] == [0, 3]
        assert b[1].t_s[0] == pytest.approx(0.07)

    def test_out_of_order_line_is_dropped_as_corrupt(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        b = blocks_of(ts.feed(text_rows([0, 10, 20, 30, 5, 40, 50]), host_time_s=0.0))
        t = np.concatenate([x.t_s for x in b])
        assert np.all(np.diff(t) > 0) and ts.bad_rows == 1 and len(t) == 6

    def test_lone_wild_timestamp_is_dropped(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        b = blocks_of(ts.feed(text_rows([0, 10, 20, 90_030, 40, 50]), host_time_s=0.0))
        t = np.concatenate([x.t_s for x in b])
        assert ts.bad_rows == 1 and t[-1] == pytest.approx(0.05)

    def test_confirmed_big_jump_is_kept(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        b = blocks_of(ts.feed(text_rows([0, 10, 20, 30_000, 30_010]), host_time_s=0.0))
        assert ts.bad_rows == 0 and b[-1].dropped == 2997

    def test_quantised_stamps_stay_in_order(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=5)
        t = [0, 1, 1, 2, 3, 3, 4, 5, 5, 6]  # millis() at 1 kHz
        ts.fs_hint_hz = 1000.0
        b = blocks_of(ts.feed(text_rows(t), host_time_s=0.0))
        tt = np.concatenate([x.t_s for x in b])
        assert len(tt) == 10 and np.all(np.diff(tt) > 0)

    def test_micros_wrap_in_a_t_us_column(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        t_us = (np.arange(8) * 2500 + 2**32 - 10_000) % 2**32
        rows = np.column_stack([t_us, np.zeros((8, 2)), np.ones(8)]).astype(float)
        b = blocks_of(ts.feed(rows, host_time_s=0.0))
        t = np.concatenate([x.t_s for x in b])
        np.testing.assert_allclose(np.diff(t), 0.0025)
        assert ts.restarts == 0 and sum(x.dropped for x in b) == 0

    def test_restart_keeps_time_increasing(self) -> None:
        ts = TextStream(source_name="p", accel_unit="g", rate_rows=3)
        out = ts.feed(text_rows([5000, 5010, 5020, 5030]), host_time_s=0.0)
        out += ts.feed(text_rows([0, 10, 20]), host_time_s=2.0)
        t = np.concatenate([x.t_s for x in blocks_of(out)])
        assert np.all(np.diff(t) > 0) and ts.restarts == 1


class TestWireDecoder:
    def test_auto_detects_binary_after_boot_garbage(self) -> None:
        d = WireDecoder(source_name="p")
        data = b"ets Jun  8 2016 00:22:57\r\n\x00" + b"".join(
            cobs_frame(encode_frame(f)) for f in [HDR6] + [samples(i, i * 10_000, 4) for i in range(10)])
        out = []
        for i in range(0, len(data), 5):
            out += d.feed(data[i:i + 5], host_time_s=i / 1e4)
        b = blocks_of(out)
        assert d.format == "binary" and sum(len(x) for x in b) == 40
        s = d.stats()
        assert s.garbage_bytes >= 20 and s.corrupt_frames == 0 and s.samples == 40

    def test_header_swallowed_by_boot_text_recovers_at_the_next_header(self) -> None:
        d = WireDecoder(source_name="p")
        frames = [HDR6] + [samples(i, i * 10_000, 4) for i in range(5)] + [HDR6, samples(5, 50_000, 4)]
        out = d.feed(b"boot" + b"".join(cobs_frame(encode_frame(f)) for f in frames), host_time_s=0.0)
        assert sum(len(x) for x in blocks_of(out)) == 4
        assert any(isinstance(x, StatusEvent) and x.state == "waiting_header" for x in out)
        assert d.stats().frames_before_header == 5

    def test_auto_detects_text(self) -> None:
        d = WireDecoder(source_name="p", accel_unit="g")
        lines = b"".join(f"{k * 10},0.01,0.02,0.99\r\n".encode() for k in range(40))
        b = blocks_of(d.feed(b"Hello from the sketch\r\n" + lines, host_time_s=0.0))
        assert d.format == "text" and sum(len(x) for x in b) == 40
        assert d.stats().fs_hz == 100.0

    def test_contiguous_blocks_of_one_chunk_are_merged(self) -> None:
        d = WireDecoder(source_name="p", wire_format="binary")
        data = b"".join(cobs_frame(encode_frame(f)) for f in [HDR6] + [samples(i, i * 10_000, 4) for i in range(10)])
        b = blocks_of(d.feed(data, host_time_s=0.0))
        assert len(b) == 1 and len(b[0]) == 40

    def test_bad_format_name(self) -> None:
        with pytest.raises(SourceError, match="auto, binary or text"):
            WireDecoder(source_name="p", wire_format="json")

    def test_constants_match_the_spec(self) -> None:
        assert (wire.FRAME_HEADER, wire.FRAME_SAMPLES, wire.FRAME_TEXT, wire.PROTOCOL_VERSION) == (1, 2, 3, 1)
