"""Sample sources: everything that yields :class:`~imu_tempo.types.SampleBlock`.

A *Source* is an async context manager and an async iterable of sample
blocks.  Live BLE, live serial, file replay and the simulator all implement
this one shape, so the engine cannot tell them apart::

    async with source:
        async for block in source:
            engine.feed(block)

Sources raise :class:`~imu_tempo.errors.SourceLost` when a device goes away
for good, and yield :class:`~imu_tempo.types.StatusEvent` objects through
``source.status`` (an optional async callback) while they reconnect.

Transports are imported lazily: opening a serial port does not import bleak.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from ..types import SampleBlock, StatusEvent

StatusCallback = Callable[[StatusEvent], Awaitable[None] | None]


@runtime_checkable
class Source(Protocol):
    """What every sample source provides."""

    #: Human-readable name of the device/file ("/dev/ttyACM0", "Polar Sense 1A2B", "demo.csv").
    name: str

    async def __aenter__(self) -> Source: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[SampleBlock]: ...


class WrappedSource:
    """A source around another (``inner``): enters and leaves it with itself and keeps its name.

    Subclasses write ``_iterate`` over ``self._inner_blocks()``, closing the inner iterator when
    they stop early.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    async def __aenter__(self) -> Any:
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self.inner.__aexit__(*exc)

    def __aiter__(self) -> AsyncIterator[SampleBlock]:
        return self._iterate()

    def _inner_blocks(self) -> contextlib.aclosing:
        return contextlib.aclosing(self.inner.__aiter__())

    async def _iterate(self) -> AsyncIterator[SampleBlock]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield


__all__ = ["Source", "StatusCallback", "WrappedSource"]
