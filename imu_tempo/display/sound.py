"""Audio cues: a short sound (or a spoken word) on a warning and on tempo failure.

::

    imu-tempo live --serial /dev/ttyACM0 --sound          # beeps
    imu-tempo live --serial /dev/ttyACM0 --sound voice    # spoken "slowing" / "stop" (espeak-ng)

The two cues are distinct by ear: a *warning* is two short high beeps
(1175 Hz), a *tempo failure* three long falling tones (660, 494, 392 Hz) at
full level.  :func:`cue_wav` makes them (16-bit mono WAV, generated, no files
shipped).

:class:`CuePlayer` turns engine events into cues without blocking the engine:
``player(event)`` only starts a task in the event loop; the sound plays in a
subprocess (``paplay``, ``pw-play``, ``aplay`` or ``afplay``, whichever exists)
or through an injected :class:`Sink`.  One cue plays at a time: a failure cuts
a warning short; any other cue that comes while one plays is dropped (cues are
about half a second, reps a second or more apart).

No sound card, no player, or a player that fails: one clear notice (through
``notice``, by default a line on stderr) and the cues are off; the session goes
on and the screen still shows every state.  Any other error in a sink is
re-raised by :meth:`CuePlayer.aclose`, not swallowed.

Threads: everything runs in the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from ..errors import ImuTempoError
from ..types import Event, FailureEvent, WarningEvent

Cue = Literal["warning", "failure"]
Style = Literal["beep", "voice"]

#: Sample rate of the generated cues.
CUE_RATE_HZ = 22050
#: Spoken words of ``--sound voice``.
WORDS: dict[str, str] = {"warning": "slowing", "failure": "stop"}


class SoundUnavailable(ImuTempoError):
    """This machine cannot play the cues (no player program, no sound card, no speech synthesizer)."""


def cue_for(event: Event) -> Cue | None:
    """The cue an event calls for: ``"warning"``, ``"failure"`` or None."""
    if isinstance(event, FailureEvent):
        return "failure"
    if isinstance(event, WarningEvent):
        return "warning"
    return None


@dataclass(frozen=True, slots=True)
class Tone:
    """One tone of a cue: frequency (Hz), duration (s), relative level (0-1), then silence (s)."""

    freq_hz: float
    duration_s: float
    level: float
    pause_s: float


#: The beeps, tone by tone.
PATTERNS: dict[str, tuple[Tone, ...]] = {
    "warning": (Tone(1175.0, 0.09, 0.5, 0.07), Tone(1175.0, 0.09, 0.5, 0.0)),
    "failure": (Tone(660.0, 0.16, 0.9, 0.04), Tone(494.0, 0.16, 0.9, 0.04), Tone(392.0, 0.26, 0.9, 0.0)),
}


def cue_samples(cue: Cue, *, sample_rate_hz: int = CUE_RATE_HZ) -> np.ndarray:
    """The beep pattern of ``cue`` as int16 samples, shape (n,), at ``sample_rate_hz``.

    Each tone has 8 ms raised-cosine edges (no clicks).
    """
    if cue not in PATTERNS:
        raise ValueError(f"unknown cue {cue!r}; expected 'warning' or 'failure'")
    parts: list[np.ndarray] = []
    for tone in PATTERNS[cue]:
        n = int(round(tone.duration_s * sample_rate_hz))
        t = np.arange(n) / sample_rate_hz
        y = tone.level * np.sin(2 * np.pi * tone.freq_hz * t)
        edge = min(int(0.008 * sample_rate_hz), n // 2)
        if edge > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
            y[:edge] *= ramp
            y[n - edge:] *= ramp[::-1]
        parts.append(y)
        parts.append(np.zeros(int(round(tone.pause_s * sample_rate_hz))))
    return np.round(np.concatenate(parts) * 32000).astype(np.int16)


def wav_bytes(samples: np.ndarray, *, sample_rate_hz: int) -> bytes:
    """16-bit mono PCM WAV file contents for int16 ``samples`` (n,)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return buf.getvalue()


def cue_wav(cue: Cue, *, sample_rate_hz: int = CUE_RATE_HZ) -> bytes:
    """The beep cue as WAV file contents."""
    return wav_bytes(cue_samples(cue, sample_rate_hz=sample_rate_hz), sample_rate_hz=sample_rate_hz)


async def spoken_wav(word: str) -> bytes:
    """``word`` spoken by espeak-ng (or espeak) as WAV file contents.

    Raises
    ------
    SoundUnavailable
        Neither synthesizer is installed, or it failed.
    """
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise SoundUnavailable("--sound voice needs espeak-ng (Debian/Ubuntu: apt install espeak-ng)")
    proc = await asyncio.create_subprocess_exec(
        exe, "-s", "190", "--stdout", word, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0 or not out.startswith(b"RIFF"):
        raise SoundUnavailable(f"{Path(exe).name} could not speak {word!r}: {err.decode(errors='replace').strip()}")
    return out


# =====================================================================================
# sinks


class Sink(Protocol):
    """Where cues are played.  ``play`` returns when the sound is over (it may be cancelled)."""

    name: str

    async def play(self, cue: Cue, wav: bytes) -> None: ...


#: Player programs tried in order, with the arguments before the file name.
PLAYERS: tuple[tuple[str, ...], ...] = (
    ("paplay",),
    ("pw-play",),
    ("aplay", "-q"),
    ("afplay",),
)


class CommandSink:
    """Play each cue with a player program on a WAV file (``aplay -q cue.wav``).

    Parameters
    ----------
    command : sequence of str
        The player and its options; the file name is appended.  ``("aplay", "-q",
        "-D", "null")`` plays to ALSA's null device (tests without a sound card).

    Raises (from :meth:`play` and :meth:`check`)
    ------
    SoundUnavailable
        The program is missing or exits with an error (e.g. no sound card).
    """

    def __init__(self, command: tuple[str, ...] | list[str]) -> None:
        if not command:
            raise ValueError("command must name a player program")
        self.command = tuple(command)
        self.name = Path(self.command[0]).name
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._files: dict[bytes, Path] = {}
        self.plays = 0

    def _file(self, wav: bytes) -> Path:
        path = self._files.get(wav)
        if path is None:
            if self._dir is None:
                self._dir = tempfile.TemporaryDirectory(prefix="imu-tempo-cues-")
            path = Path(self._dir.name) / f"cue{len(self._files)}.wav"
            path.write_bytes(wav)
            self._files[wav] = path
        return path

    async def play(self, cue: Cue, wav: bytes) -> None:
        path = self._file(wav)
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command, str(path), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise SoundUnavailable(f"cannot run {self.name}: {exc.strerror or exc}") from None
        try:
            _, err = await proc.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            lines = [ln for ln in err.decode(errors="replace").strip().splitlines() if ln.strip()]
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            raise SoundUnavailable(f"{self.name} cannot play ({why})")
        self.plays += 1

    async def check(self) -> None:
        """Play 30 ms of silence: raises SoundUnavailable at start-up rather than at the first cue."""
        silence = wav_bytes(np.zeros(int(0.03 * CUE_RATE_HZ), dtype=np.int16), sample_rate_hz=CUE_RATE_HZ)
        await self.play("warning", silence)
        self.plays -= 1

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
            self._files.clear()


def find_player() -> CommandSink:
    """The first player program installed here (see :data:`PLAYERS`).

    Raises
    ------
    SoundUnavailable
        None is installed.
    """
    for cmd in PLAYERS:
        if shutil.which(cmd[0]):
            return CommandSink(cmd)
    hint = "apt install alsa-utils (aplay) or pulseaudio-utils (paplay)" if sys.platform.startswith("linux") else \
        "a player program (paplay, pw-play, aplay, afplay)"
    raise SoundUnavailable(f"no audio player found ({hint})")


# =====================================================================================
# scheduling


def _stderr_notice(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class CuePlayer:
    """Play a cue for each warning and tempo failure, without blocking the caller.

    Parameters
    ----------
    sink : Sink or None
        Where to play; None finds a player program on :meth:`start`.
    style : {"beep", "voice"}
        Generated beeps, or spoken words (espeak-ng; falls back to beeps with a notice).
    notice : callable taking str
        Receives the one line saying the cues are off (default: printed to stderr).
    check : bool
        On :meth:`start`, play a short silence to find out now whether sound works.

    Notes
    -----
    Call ``player(event)`` from the event loop's thread (it is an ``on_event``
    callback); use ``async with`` (or :meth:`start` / :meth:`aclose`) around the
    session.  ``played`` and ``dropped`` list the cues, in order, for tests and
    the session summary.
    """

    def __init__(
        self,
        *,
        sink: Sink | None = None,
        style: Style = "beep",
        notice: Callable[[str], None] = _stderr_notice,
        check: bool = True,
    ) -> None:
        if style not in ("beep", "voice"):
            raise ValueError(f"style must be 'beep' or 'voice', got {style!r}")
        self.sink = sink
        self.style = style
        self.notice = notice
        self.check = check
        self.enabled = True
        self.played: list[Cue] = []
        self.dropped: list[Cue] = []
        self.cut: list[Cue] = []
        self.sounds: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._playing: Cue | None = None
        self._error: BaseException | None = None

    async def __aenter__(self) -> CuePlayer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None and self._task is not None:
            self._task.cancel()  # leaving on an error: do not wait for the sound
        await self.aclose()

    async def start(self) -> None:
        """Find the sink, make the sounds, check that they can play (or give the one notice)."""
        self.sounds = {c: cue_wav(c) for c in ("warning", "failure")}
        try:
            if self.style == "voice":
                try:
                    self.sounds = {c: await spoken_wav(WORDS[c]) for c in ("warning", "failure")}
                except SoundUnavailable as exc:
                    self.notice(f"sound: {exc}; using beeps instead")
            if self.sink is None:
                self.sink = find_player()
            if self.check and isinstance(self.sink, CommandSink):
                await self.sink.check()
        except SoundUnavailable as exc:
            self._off(exc)

    def _off(self, exc: BaseException) -> None:
        if self.enabled:
            self.enabled = False
            self.notice(f"sound: {exc}: audio cues are off; the screen still shows warnings and tempo failure")

    def __call__(self, event: Event) -> None:
        cue = cue_for(event)
        if cue is not None:
            self.cue(cue)

    def cue(self, cue: Cue) -> None:
        """Start ``cue`` now (or drop it, see the class notes); returns at once."""
        if self._error is not None:
            raise self._error
        if not self.enabled or self.sink is None:
            return
        if self._task is not None and not self._task.done():
            if cue == "failure" and self._playing == "warning":
                self.cut.append(self._playing)
                self._task.cancel()
            else:
                self.dropped.append(cue)
                return
        self._playing = cue
        self.played.append(cue)
        self._task = asyncio.get_running_loop().create_task(self._play(cue), name=f"imu-tempo {cue} cue")

    async def _play(self, cue: Cue) -> None:
        assert self.sink is not None
        try:
            await self.sink.play(cue, self.sounds[cue])
        except SoundUnavailable as exc:
            self._off(exc)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug in a sink: keep it for aclose() to raise
            self._error = exc
        finally:
            if self._playing == cue and asyncio.current_task() is self._task:
                self._playing = None

    async def wait(self) -> None:
        """Wait until the cue playing now (if any) is over."""
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        """Let the last cue finish, release the sink; re-raise an unexpected sink error."""
        try:
            await self.wait()
        finally:
            close = getattr(self.sink, "close", None)
            if callable(close):
                close()
        if self._error is not None:
            raise self._error

