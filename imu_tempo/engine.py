"""The streaming rep-tempo engine (placeholder: being implemented)."""

from __future__ import annotations

from .settings import Settings
from .types import Event, SampleBlock


class Engine:
    """Feed sample blocks in; get events out, in data order.

    ``feed(block)`` returns the events the block settled; ``finish()`` flushes
    the stream end.  Any split of the same samples into blocks gives the same
    events.  ``analysis(...)`` returns the ``imu-tempo.analysis/1`` dict.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    def feed(self, block: SampleBlock) -> list[Event]:
        raise NotImplementedError

    def finish(self) -> list[Event]:
        raise NotImplementedError
