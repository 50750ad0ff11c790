"""Pure decoder tests: byte vectors taken from the vendors' documentation and SDK tests.

Polar vectors are the ones in polarofficial/polar-ble-sdk's ``AccDataTest.kt``; Movesense
frames follow the gatt_sensordata_app layout; NUS frames are built field by field from the
imu-tempo wire specification (not with the encoder under test).
"""

from __future__ import annotations

import binascii
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu_tempo.errors import PacketDecodeError
from imu_tempo.sources.ble.profiles import PREFERRED_FS_HZ, StartFailed, get_profile, guess_profile
from imu_tempo.sources.ble.profiles.base import pick_rate
from imu_tempo.sources.ble.profiles.movesense import MovesenseAccDecoder
from imu_tempo.sources.ble.profiles.nus import NusDecoder
from imu_tempo.sources.ble.profiles.polar import (
    PolarAccDecoder,
    decode_acc_mg,
    decode_delta_frames,
    factor_from_bits,
    parse_control_response,
    parse_data_frame,
    parse_settings,
    serialize_settings,
)
from imu_tempo.sources.wire import decode_frame

G = 9.80665
MG = G / 1000.0

# polar-ble-sdk AccDataTest: "process acc raw data frame type 1" (first four samples).
POLAR_RAW1 = bytes.fromhex(
    "02" "0094357700000000" "01"
    "F7FF FFFF E703" "F8FF FEFF E503" "F9FF FFFF E503" "FAFF FFFF E603".replace(" ", "")
)
# polar-ble-sdk AccDataTest: "process acc compressed data type 0" (reference + 56 ten-bit deltas).
POLAR_DELTA0_CONTENT = bytes.fromhex(
    "7107F06A9E8D0A38BE5CBEBA2F96B3EE4BE5ADFB42B9EBBE4CFEBA2F92BFEE4BE4B1FB12B9ECBD3C3EBB2F8FD3DE4BE3"
    "B5F7D2B8EDBD307E7B2F8BE3CE8BE2BAF7A2B8EEBC20BE7B2F88F3CECBE1BDEF52F8EFBC18FE3B2F8403BFCBE0C2EF32"
    "B8F0BB044EBC2E8113AF0BE0C6EFF2F7F1B9FC7DBC2E7D279F4BDFCAEBC2F7F2B8ECCD7C2E7B378F4BDECEE392F7F3B8"
    "E00DFD2D774B7FCBDDD2DF6237F5B7D44DBD2D745B6FCBDCD7D73237F6B5C88D7D2D716B4F4BDCDCD3F236F7B4BCDDFD"
    "2C6F7B3F4BDBE0CFD236F8B2B02DBE2C6C8F1FCBDAE3C7A276F9"
)
# polar-ble-sdk AccDataTest: "process acc compressed data type 1".
POLAR_DELTA1 = bytes.fromhex("02" "6500000000000000" "81" "F1FF1400F003" "0601" "7B0F08")


class TestPolarFrames:
    def test_raw_type1_h10_samples_in_mg_with_last_sample_time(self) -> None:
        frame = PolarAccDecoder(fs_hz=200.0).decode(POLAR_RAW1)
        assert frame is not None
        np.testing.assert_allclose(
            frame.accel / MG, [[-9, -1, 999], [-8, -2, 997], [-7, -1, 997], [-6, -1, 998]], atol=1e-9
        )
        assert frame.ref == "last"
        assert frame.t_ref == pytest.approx(2.0)  # 2 000 000 000 ns since 2000
        assert frame.gyro is None

    def test_compressed_type0_is_g_times_factor(self) -> None:
        head = bytes.fromhex("02" "0094357700000000" "80")
        parsed = parse_data_frame(head + POLAR_DELTA0_CONTENT)
        assert parsed.compressed and parsed.frame_type == 0
        mg = decode_acc_mg(parsed, factor=2.44e-4)
        assert mg.shape == (57, 3)
        ref = np.array([1905, 27376, -29282])
        np.testing.assert_allclose(mg[0], ref * 2.44e-4 * 1000, rtol=1e-6)
        np.testing.assert_allclose(mg[1], (ref + [190, -105, -85]) * 2.44e-4 * 1000, rtol=1e-6)
        assert np.all(np.abs(mg) <= 8000)  # the SDK test's range check (±8 g)

    def test_compressed_type1_six_bit_deltas(self) -> None:
        parsed = parse_data_frame(POLAR_DELTA1)
        assert parsed.timestamp_ns == 101 and parsed.compressed and parsed.frame_type == 1
        np.testing.assert_array_equal(decode_acc_mg(parsed, factor=1.0), [[-15, 20, 1008], [-20, 17, 1008]])

    def test_compressed_type1_factor_scales_counts(self) -> None:
        frame = PolarAccDecoder(fs_hz=52.0, factor=0.5).decode(POLAR_DELTA1)
        assert frame is not None
        np.testing.assert_allclose(frame.accel / MG, [[-7.5, 10, 504], [-10, 8.5, 504]])

    def test_truncated_raw_frame_is_an_error(self) -> None:
        with pytest.raises(PacketDecodeError, match="truncated"):
            PolarAccDecoder(fs_hz=200.0).decode(POLAR_RAW1[:20])  # 20 bytes: what ATT MTU 23 leaves

    def test_truncated_delta_frame_is_an_error(self) -> None:
        head = bytes.fromhex("02" "0094357700000000" "80")
        with pytest.raises(PacketDecodeError, match="truncated"):
            decode_acc_mg(parse_data_frame(head + POLAR_DELTA0_CONTENT[:10]), factor=1.0)

    def test_other_measurement_types_are_ignored(self) -> None:
        ecg = bytes([0x00]) + POLAR_RAW1[1:]
        assert PolarAccDecoder(fs_hz=200.0).decode(ecg) is None

    def test_short_notification_is_an_error(self) -> None:
        with pytest.raises(PacketDecodeError, match="10-byte header"):
            PolarAccDecoder(fs_hz=52.0).decode(b"\x02\x00")


class TestPolarControlPoint:
    def test_h10_start_request_from_the_notes(self) -> None:
        # START ACC 200 Hz, 16 bit, ±8 g:  02 02 | 00 01 C8 00 | 01 01 10 00 | 02 01 08 00
        assert serialize_settings({0: 200, 1: 16, 2: 8}) == bytes.fromhex("0001C800" "01011000" "02010800")

    def test_settings_query_answer_lists_every_value(self) -> None:
        raw = bytes.fromhex("0004" "1900320064 00C800".replace(" ", "") + "01011000" "0203020004000800")
        assert parse_settings(raw) == {0: [25, 50, 100, 200], 1: [16], 2: [2, 4, 8]}

    def test_factor_is_never_sent(self) -> None:
        assert serialize_settings({0: 52, 5: 123}) == bytes.fromhex("00013400")

    def test_start_response_carries_the_factor(self) -> None:
        bits = struct.unpack("<I", struct.pack("<f", 0.244140625))[0]
        resp = parse_control_response(bytes.fromhex("F0020200000501") + bits.to_bytes(4, "little"))
        assert (resp.op, resp.measurement, resp.status, resp.more) == (2, 2, 0, False)
        assert factor_from_bits(parse_settings(resp.params)[5][0]) == pytest.approx(0.244140625)

    def test_error_response_has_no_parameters(self) -> None:
        resp = parse_control_response(bytes.fromhex("F0020206"))
        assert resp.status == 6 and resp.status_text == "already in state" and resp.params == b""

    def test_more_flag(self) -> None:
        assert parse_control_response(bytes.fromhex("F001020001000134 00".replace(" ", ""))).more

    def test_not_a_response(self) -> None:
        with pytest.raises(PacketDecodeError):
            parse_control_response(bytes.fromhex("0102"))

    def test_truncated_settings(self) -> None:
        with pytest.raises(PacketDecodeError, match="truncated"):
            parse_settings(bytes.fromhex("000219"))


class TestDeltaCodec:
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(*[st.integers(-32768, 32767)] * 3), min_size=1, max_size=40
        )
    )
    def test_simulator_encoder_round_trips(self, rows: list[tuple[int, int, int]]) -> None:
        from imu_tempo.sim_ble.peripherals import encode_delta_frame

        samples = np.array(rows, dtype=np.int64)
        # Deltas between int16 samples fit in 17 bits; the encoder picks the width.
        decoded = decode_delta_frames(encode_delta_frame(samples), channels=3, resolution_bits=16)
        np.testing.assert_array_equal(decoded, samples)


class TestMovesense:
    def test_acc_notification(self) -> None:
        body = struct.pack("<fff", 0.5, -1.25, 9.75) + struct.pack("<fff", 0.0, 0.0, 9.80665)
        data = bytes([2, 0x63]) + (1000).to_bytes(4, "little") + body
        frame = MovesenseAccDecoder(fs_hz=104.0).decode(data)
        assert frame is not None and len(frame) == 2
        np.testing.assert_allclose(frame.accel, [[0.5, -1.25, 9.75], [0.0, 0.0, 9.80665]], rtol=1e-6)
        assert frame.ref == "first" and frame.t_ref == pytest.approx(1.0)
        assert frame.t_wrap_s == pytest.approx(2**32 / 1000)

    def test_command_results_carry_no_samples(self) -> None:
        assert MovesenseAccDecoder(fs_hz=104.0).decode(bytes([1, 0x63]) + b"Hello") is None

    def test_other_subscriptions_are_ignored(self) -> None:
        data = bytes([2, 0x10]) + bytes(4) + struct.pack("<fff", 1, 2, 3)
        assert MovesenseAccDecoder(fs_hz=104.0).decode(data) is None

    def test_truncated_notification(self) -> None:
        data = bytes([2, 0x63]) + bytes(4) + bytes(14)  # 20 bytes: cut by ATT MTU 23
        with pytest.raises(PacketDecodeError, match="truncated"):
            MovesenseAccDecoder(fs_hz=104.0).decode(data)


def _crc(body: bytes) -> bytes:
    return struct.pack("<H", binascii.crc_hqx(body, 0xFFFF))


def _nus_header(fs: float = 100.0, channels: int = 6) -> bytes:
    body = struct.pack("<BBBBfffB", 0x01, 1, channels, 0, fs, 16 / 32768, 2000 / 32768, 0)
    return body + _crc(body)


def _nus_samples(seq: int, t0_us: int, rows: list[list[int]]) -> bytes:
    body = struct.pack("<BHIB", 0x02, seq, t0_us, len(rows)) + struct.pack(f"<{len(rows) * len(rows[0])}h",
                                                                         *[v for r in rows for v in r])
    return body + _crc(body)


class TestNus:
    def test_samples_frame_to_si_units(self) -> None:
        header = decode_frame(_nus_header())
        dec = NusDecoder(header)  # type: ignore[arg-type]
        frame = dec.decode(_nus_samples(7, 4_294_967_000, [[2048, 0, -2048, 16384, 0, 0], [0, 1, 2, 3, 4, 5]]))
        assert frame is not None and len(frame) == 2
        np.testing.assert_allclose(frame.accel[0], [G, 0, -G])  # 2048 counts at 16/32768 g = 1 g
        np.testing.assert_allclose(frame.gyro[0], [1000 * math.pi / 180, 0, 0])  # type: ignore[index]
        assert frame.seq == 7 and frame.ref == "first"
        assert frame.t_ref == pytest.approx(4294.967)
        assert frame.t_wrap_s == pytest.approx(2**32 / 1e6)

    def test_repeated_header_yields_nothing(self) -> None:
        dec = NusDecoder(decode_frame(_nus_header()))  # type: ignore[arg-type]
        assert dec.decode(_nus_header()) is None

    def test_changed_rate_mid_session_is_an_error(self) -> None:
        dec = NusDecoder(decode_frame(_nus_header()))  # type: ignore[arg-type]
        with pytest.raises(PacketDecodeError, match="mid-session"):
            dec.decode(_nus_header(fs=200.0))

    def test_bad_crc(self) -> None:
        dec = NusDecoder(decode_frame(_nus_header()))  # type: ignore[arg-type]
        packet = bytearray(_nus_samples(1, 0, [[1, 2, 3, 4, 5, 6]]))
        packet[5] ^= 0xFF
        with pytest.raises(PacketDecodeError, match="CRC"):
            dec.decode(bytes(packet))


class TestChoosing:
    def test_default_rate_is_the_offered_rate_closest_to_100_hz(self) -> None:
        assert PREFERRED_FS_HZ == 100.0
        assert pick_rate([25, 50, 100, 200], None, device="H10") == 100
        assert pick_rate([52], None, device="Sense") == 52
        assert pick_rate([13, 26, 52, 104, 208], None, device="Movesense") == 104

    def test_unoffered_rate_names_the_choices(self) -> None:
        with pytest.raises(StartFailed, match="offers 25, 50, 100, 200 Hz"):
            pick_rate([25, 50, 100, 200], 150.0, device="H10")

    def test_profile_guess_from_advertisement(self) -> None:
        assert guess_profile(name="Polar Sense 1A2B3C4D", service_uuids=["0000180d-0000-1000-8000-00805f9b34fb"]).name == "polar"  # type: ignore[union-attr]
        assert guess_profile(name="my-board", service_uuids=["6E400001-B5A3-F393-E0A9-E50E24DCCA9E"]).name == "nus"  # type: ignore[union-attr]
        assert guess_profile(name="Movesense 220330000123", service_uuids=[]).name == "movesense"  # type: ignore[union-attr]
        assert guess_profile(name="Headphones", service_uuids=["0000110b-0000-1000-8000-00805f9b34fb"]) is None

    def test_unknown_profile_name(self) -> None:
        with pytest.raises(Exception, match="known profiles: nus, polar, movesense"):
            get_profile("witmotion")
