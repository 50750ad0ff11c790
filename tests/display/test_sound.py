"""Audio cues: distinct sounds, scheduled without blocking, one clear notice when sound cannot work."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from displaykit import expected_set, recorded_run

from imu_tempo.display.sound import (
    PATTERNS,
    CommandSink,
    CuePlayer,
    SoundUnavailable,
    cue_for,
    cue_samples,
    cue_wav,
)
from imu_tempo.types import FailureEvent, RepEvent, WarningEvent


def arun(coro: Any, timeout_s: float = 20.0) -> Any:
    async def guarded() -> Any:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(guarded())


class FakeSink:
    """Records what it is asked to play; each play lasts until the test releases it."""

    name = "fake"

    def __init__(self, *, fail: BaseException | None = None) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.wavs: list[bytes] = []
        self.release = asyncio.Event()
        self.fail = fail

    async def play(self, cue: str, wav: bytes) -> None:
        self.started.append(cue)
        self.wavs.append(wav)
        if self.fail is not None:
            raise self.fail
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(cue)
            raise
        self.finished.append(cue)


def tones(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """(dominant frequency Hz, duration s) of each non-silent run."""
    win = int(0.004 * rate)
    envelope = np.convolve(np.abs(samples.astype(float)), np.ones(win) / win, mode="same")
    loud = envelope > 1000
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    out = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        seg = samples[a:b].astype(float)
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=1 << 16))
        out.append((float(np.fft.rfftfreq(1 << 16, 1 / rate)[np.argmax(spec)]), (b - a) / rate))
    return out


class TestCueContent:
    def test_warning_and_failure_sound_different(self) -> None:
        rate = 22050
        warn = cue_samples("warning", sample_rate_hz=rate)
        fail = cue_samples("failure", sample_rate_hz=rate)
        for cue, samples in (("warning", warn), ("failure", fail)):
            spec = [(t.freq_hz, t.duration_s) for t in PATTERNS[cue]]
            found = tones(samples, rate)
            # Each tone is there, at its pitch (within 2 Hz), roughly its length (the edges are ramped).
            assert len(found) == len(spec), (cue, found)
            for (f, d), (f0, d0) in zip(found, spec, strict=True):
                assert abs(f - f0) < 2 and abs(d - d0) < 0.012, (cue, found)
        # Short, and told apart by pitch, count and length: a warning is high and brief, a failure low and long.
        assert len(warn) / rate < 0.4 and len(fail) / rate < 0.8 and len(fail) > 1.5 * len(warn)
        assert min(t.freq_hz for t in PATTERNS["warning"]) > max(t.freq_hz for t in PATTERNS["failure"])
        assert np.abs(fail).max() > np.abs(warn).max()
        assert np.abs(warn).max() < 32767 and np.abs(fail).max() < 32767

    def test_wav_files_are_valid(self) -> None:
        for cue in ("warning", "failure"):
            data = cue_wav(cue)
            with wave.open(io.BytesIO(data)) as w:
                assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
                frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            assert np.array_equal(frames, cue_samples(cue))

    def test_events_to_cues(self) -> None:
        events, _ = recorded_run()
        exp = expected_set()
        cues = [cue_for(e) for e in events]
        # One cue per warning and per failure the engine reported, none for the reps themselves.
        assert exp.warning_reps and exp.failure_events == 1
        assert cues.count("warning") == sum(isinstance(e, WarningEvent) for e in events) == exp.warning_events
        assert exp.warning_events == len(exp.warning_reps)
        assert cues.count("failure") == sum(isinstance(e, FailureEvent) for e in events) == exp.failure_events
        assert all(c is None for c, e in zip(cues, events, strict=True) if isinstance(e, RepEvent))


class TestScheduling:
    def test_cues_never_block_the_caller(self) -> None:
        events, _ = recorded_run()
        warn = next(i for i, e in enumerate(events) if isinstance(e, WarningEvent))

        async def main() -> None:
            sink = FakeSink()
            async with CuePlayer(sink=sink, check=False) as player:
                for ev in events[: warn + 1]:  # the engine's events, in order
                    player(ev)
                assert player.played == ["warning"] and sink.started == []  # returned before anything played
                await asyncio.sleep(0)
                assert sink.started == ["warning"] and sink.wavs[0] == cue_wav("warning")
                for ev in events[warn + 1:]:  # the sink never finishes meanwhile
                    player(ev)
                # The failure came while the warning still played: it cut the warning short.
                await asyncio.sleep(0)
                assert sink.cancelled == ["warning"] and sink.started == ["warning", "failure"]
                assert sink.wavs[1] == cue_wav("failure")
                assert player.played == ["warning", "failure"] and player.cut == ["warning"]
                sink.release.set()
            assert sink.finished == ["failure"]

        arun(main())

    def test_a_cue_during_a_cue_is_dropped_unless_it_is_a_failure(self) -> None:
        async def main() -> None:
            sink = FakeSink()
            async with CuePlayer(sink=sink, check=False) as player:
                player.cue("failure")
                player.cue("warning")
                player.cue("failure")
                await asyncio.sleep(0)
                assert sink.started == ["failure"] and player.dropped == ["warning", "failure"]
                sink.release.set()
                await player.wait()
                player.cue("warning")
                await player.wait()
            assert sink.finished == ["failure", "warning"]

        arun(main())

    def test_sound_that_cannot_play_gives_one_notice_and_goes_quiet(self) -> None:
        async def main() -> None:
            notices: list[str] = []
            sink = FakeSink(fail=SoundUnavailable("aplay cannot play (audio open error: No such file or directory)"))
            async with CuePlayer(sink=sink, check=False, notice=notices.append) as player:
                player.cue("warning")
                await player.wait()
                player.cue("failure")
                player.cue("warning")
                await player.wait()
            assert sink.started == ["warning"]  # nothing more is tried once sound is off
            assert len(notices) == 1
            assert "audio open error" in notices[0] and "cues are off" in notices[0] and not player.enabled

        arun(main())

    def test_a_bug_in_a_sink_is_not_swallowed(self) -> None:
        async def main() -> None:
            async with CuePlayer(sink=FakeSink(fail=ZeroDivisionError("sink bug")), check=False) as player:
                player.cue("failure")
                await player.wait()

        with pytest.raises(ZeroDivisionError, match="sink bug"):
            arun(main())

    def test_no_player_program_is_one_notice(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", "/nonexistent")
        notices: list[str] = []

        async def main() -> None:
            async with CuePlayer(notice=notices.append) as player:
                player.cue("failure")
            assert not player.enabled

        arun(main())
        assert len(notices) == 1 and "no audio player found" in notices[0]

    def test_voice_without_a_synthesizer_falls_back_to_beeps(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PATH", "/nonexistent")
        notices: list[str] = []

        async def main() -> None:
            sink = FakeSink()
            async with CuePlayer(sink=sink, style="voice", notice=notices.append) as player:
                player.cue("warning")
                sink.release.set()
            assert sink.wavs == [cue_wav("warning")]

        arun(main())
        assert notices == ["sound: --sound voice needs espeak-ng (Debian/Ubuntu: apt install espeak-ng); using beeps instead"]


APLAY = shutil.which("aplay")
NO_CARD = not Path("/dev/snd").exists()


@pytest.mark.skipif(APLAY is None, reason="aplay (alsa-utils) is not installed")
class TestRealPlayback:
    def test_aplay_plays_the_cues_to_the_null_device(self) -> None:
        async def main() -> None:
            sink = CommandSink(["aplay", "-q", "-D", "null"])
            notices: list[str] = []
            async with CuePlayer(sink=sink, notice=notices.append) as player:
                player.cue("warning")
                await player.wait()
                player.cue("failure")
                await player.wait()
            assert notices == [] and sink.plays == 2 and player.played == ["warning", "failure"]

        arun(main())

    @pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
    def test_spoken_words_play(self) -> None:
        async def main() -> None:
            sink = CommandSink(["aplay", "-q", "-D", "null"])
            async with CuePlayer(sink=sink, style="voice", notice=pytest.fail) as player:
                assert player.sounds["failure"].startswith(b"RIFF") and player.sounds["failure"] != cue_wav("failure")
                player.cue("failure")
            assert sink.plays == 1

        arun(main())

    @pytest.mark.skipif(not NO_CARD, reason="this machine has a sound card")
    def test_no_sound_card_is_found_at_start_up(self) -> None:
        notices: list[str] = []

        async def main() -> None:
            async with CuePlayer(sink=CommandSink(["aplay", "-q"]), notice=notices.append) as player:
                player.cue("failure")
            assert not player.enabled and player.played == []

        arun(main())
        assert len(notices) == 1 and notices[0].startswith("sound: aplay cannot play (")

    @pytest.mark.skipif(not NO_CARD, reason="this machine has a sound card")
    def test_live_demo_with_sound_but_no_sound_card(self) -> None:
        """One clear warning on stderr, not a crash; the session runs to its end."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.run([sys.executable, "-m", "imu_tempo", "live", "--demo", "--demo-speed", "50", "--sound",
                               "--jsonl"], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        notes = [ln for ln in proc.stderr.splitlines() if "sound" in ln]
        assert len(notes) == 1 and "audio cues are off" in notes[0], proc.stderr
        assert '"state":"ended"' in proc.stdout.splitlines()[-1]
