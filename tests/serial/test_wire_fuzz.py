"""Fuzzing the decoders with hypothesis: no input crashes them, and damage stays local."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imu_tempo.errors import ImuTempoError, PacketDecodeError
from imu_tempo.sources.wire import (
    FrameReader,
    HeaderFrame,
    SamplesFrame,
    TextFrame,
    TextLineReader,
    WireDecoder,
    cobs_frame,
    decode_frame,
    encode_frame,
)
from imu_tempo.types import SampleBlock

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

headers = st.builds(
    HeaderFrame,
    fs_hz=st.sampled_from([50.0, 100.0, 104.0, 400.0, 1000.0]),
    channels=st.sampled_from([3, 6]),
    accel_g_per_lsb=st.sampled_from([2 / 32768, 16 / 32768]),
    gyro_dps_per_lsb=st.just(2000 / 32768),
    device_name=st.text(max_size=8),
)


@st.composite
def samples_frames(draw: st.DrawFn, channels: int | None = None) -> SamplesFrame:
    ch = channels or draw(st.sampled_from([3, 6]))
    n = draw(st.integers(1, 12))
    data = draw(st.lists(st.integers(-32768, 32767), min_size=n * ch, max_size=n * ch))
    return SamplesFrame(seq=draw(st.integers(0, 65535)), t0_us=draw(st.integers(0, 2**32 - 1)),
                        samples=np.array(data, dtype="<i2").reshape(n, ch))


frames = st.one_of(headers, samples_frames(), st.builds(TextFrame, st.text(max_size=20)))


@FUZZ
@given(st.binary(max_size=400))
def test_decode_frame_only_raises_packet_decode_error(data: bytes) -> None:
    try:
        decode_frame(data)
    except PacketDecodeError:
        pass


@FUZZ
@given(frames)
def test_every_frame_roundtrips(frame: object) -> None:
    out = decode_frame(encode_frame(frame))  # type: ignore[arg-type]
    if isinstance(frame, SamplesFrame):
        assert isinstance(out, SamplesFrame)
        np.testing.assert_array_equal(out.samples, frame.samples)
        assert (out.seq, out.t0_us) == (frame.seq, frame.t0_us)
    elif isinstance(frame, HeaderFrame):
        assert isinstance(out, HeaderFrame)
        assert (out.channels, out.device_name) == (frame.channels, frame.device_name)
    else:
        assert out == frame


@FUZZ
@given(frame=frames, flip_at=st.integers(0, 10_000), xor=st.integers(1, 255))
def test_any_single_byte_error_is_caught(frame: object, flip_at: int, xor: int) -> None:
    """A flipped byte anywhere in a packet never decodes silently to something else (CRC-16)."""
    pkt = bytearray(encode_frame(frame))  # type: ignore[arg-type]
    pkt[flip_at % len(pkt)] ^= xor
    try:
        out = decode_frame(bytes(pkt))
    except PacketDecodeError:
        return
    raise AssertionError(f"corrupted packet decoded as {out!r}")


@FUZZ
@given(
    sent=st.lists(frames, min_size=1, max_size=12),
    garbage=st.lists(st.binary(max_size=40), min_size=13, max_size=13),
    chunks=st.lists(st.integers(1, 50), min_size=1, max_size=20),
)
def test_reader_finds_every_frame_between_garbage(sent: list, garbage: list[bytes], chunks: list[int]) -> None:
    """Garbage between frames (ending in a delimiter) costs nothing: every frame comes out, in order."""
    data = b"".join(g + b"\x00" + cobs_frame(encode_frame(f)) for g, f in zip(garbage, sent, strict=False))
    r = FrameReader()
    out = []
    i = k = 0
    while i < len(data):
        step = chunks[k % len(chunks)]
        out += r.feed(data[i:i + step])
        i += step
        k += 1
    # Garbage can itself contain valid frames only by an astronomically unlikely CRC match.
    assert [type(f) for f in out[-len(sent):]] == [type(f) for f in sent]
    assert r.frames >= len(sent)


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=30))
def test_reader_survives_any_bytes(chunks: list[bytes]) -> None:
    r = FrameReader()
    for c in chunks:
        r.feed(c)
    assert len(r._buf) <= r.max_encoded


@FUZZ
@given(st.lists(st.binary(max_size=64), max_size=30))
def test_text_reader_survives_any_bytes(chunks: list[bytes]) -> None:
    r = TextLineReader()
    for c in chunks:
        rows = r.feed(c)
        assert rows.ndim == 2 and (len(rows) == 0 or rows.shape[1] in (4, 7))
        assert np.all(np.isfinite(rows))


def _check_blocks(items: list) -> list[SampleBlock]:
    blocks = [b for b in items if isinstance(b, SampleBlock)]
    for b in blocks:
        assert np.all(np.isfinite(b.t_s)) and np.all(np.isfinite(b.accel))
    return blocks


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=40), st.sampled_from(["auto", "binary", "text"]))
def test_decoder_survives_any_bytes_and_time_only_increases(chunks: list[bytes], fmt: str) -> None:
    d = WireDecoder(source_name="fuzz", wire_format=fmt, accel_unit="g")
    t_last = -np.inf
    for i, c in enumerate(chunks):
        try:
            items = d.feed(c, host_time_s=i * 0.01)
        except ImuTempoError:
            return  # a clear error (unit, changed format) is an acceptable end
        for b in _check_blocks(items):
            assert b.t_s[0] > t_last and np.all(np.diff(b.t_s) > 0)
            t_last = b.t_s[-1]


@FUZZ
@given(
    n_frames=st.integers(2, 40),
    lost=st.sets(st.integers(1, 39), max_size=10),
    corrupt=st.sets(st.integers(1, 39), max_size=5),
    restart_at=st.one_of(st.none(), st.integers(1, 39)),
    chunk=st.integers(1, 97),
)
def test_decoder_on_a_damaged_binary_stream(n_frames: int, lost: set[int], corrupt: set[int],
                                            restart_at: int | None, chunk: int) -> None:
    """Losses, corruption and restarts: time increases, nothing is invented, losses are counted."""
    hdr = HeaderFrame(fs_hz=400.0, channels=3, accel_g_per_lsb=16 / 32768)
    data = bytearray(b"\x00" + cobs_frame(encode_frame(hdr)))
    sent = 0
    seq, t0 = 0, 1_000_000
    for k in range(n_frames):
        if k == restart_at:
            seq, t0 = 0, 0
            data += cobs_frame(encode_frame(hdr))
        enc = bytearray(cobs_frame(encode_frame(SamplesFrame(seq=seq, t0_us=t0, samples=np.ones((4, 3), "<i2")))))
        seq, t0 = seq + 1, t0 + 10_000
        if k in lost:
            continue
        if k in corrupt:
            enc[len(enc) // 2] ^= 0x5A
        else:
            sent += 4
        data += enc
    d = WireDecoder(source_name="fuzz", wire_format="binary")
    items = []
    for i in range(0, len(data), chunk):
        items += d.feed(bytes(data[i:i + chunk]), host_time_s=i * 1e-5)
    blocks = _check_blocks(items)
    t = np.concatenate([b.t_s for b in blocks]) if blocks else np.empty(0)
    assert np.all(np.diff(t) > 0)
    got = sum(len(b) for b in blocks)
    assert got <= sent  # corrupted frames never turn into samples
    ok = [k for k in range(n_frames) if k not in lost and k not in corrupt]
    if restart_at is None and ok:
        # Every loss between the first and the last frame received is counted, exactly.
        assert got + sum(b.dropped for b in blocks) == 4 * (ok[-1] - ok[0] + 1)
