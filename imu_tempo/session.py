"""Run a source through the engine: the one loop behind ``live`` and ``replay``.

``run_session`` is async (the core of imu-tempo is asyncio); the CLI calls it
once through ``asyncio.run``.  Whatever ends the stream (the source ends, the
device is lost for good, Ctrl-C), the recording is flushed and closed first and
the engine is finished, so every rep and sample received is kept and the set
summary is emitted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from .engine import Engine
from .errors import SourceLost
from .sources import Source
from .types import Event, StatusEvent


@dataclass
class SessionResult:
    events: list[Event] = field(default_factory=list)
    samples: int = 0
    blocks: int = 0
    lost: SourceLost | None = None
    interrupted: bool = False


async def run_session(
    source: Source,
    engine: Engine,
    *,
    on_event: Callable[[Event], None],
    recorder=None,
    keep_events: bool = True,
) -> SessionResult:
    """Stream ``source`` through ``engine``, calling ``on_event`` for each event in data order.

    Parameters
    ----------
    source : Source
        Any imu-tempo source (already constructed, not yet entered).
    engine : Engine
        A fresh engine (its settings decide the analysis).
    on_event : callable
        Called in the event loop's thread for every event, as soon as it exists.
        Exceptions propagate (a broken output stops the session loudly).
    recorder : RecordingWriter, optional
        Every block is written *before* it is analysed, so a crash in analysis
        cannot lose samples.

    Returns
    -------
    SessionResult
        All events (unless ``keep_events`` is false), counts, and how it ended.
        ``SourceLost`` is reported in ``result.lost`` (after a status event),
        not raised; Ctrl-C / cancellation re-raises after the summary.
    """
    result = SessionResult()

    def emit(events: list[Event]) -> None:
        for ev in events:
            if keep_events:
                result.events.append(ev)
            on_event(ev)

    try:
        async with source:
            async for block in source:
                if recorder is not None:
                    recorder.write(block)
                result.samples += len(block)
                result.blocks += 1
                emit(engine.feed(block))
    except SourceLost as exc:
        result.lost = exc
        emit([StatusEvent(state="lost", message=f"{source.name}: {exc}")])
    except (asyncio.CancelledError, KeyboardInterrupt):
        result.interrupted = True
        raise
    finally:
        try:
            if recorder is not None:
                recorder.close()
        finally:
            emit(engine.finish())
    return result
