"""Live displays: what the athlete and the coach see and hear while the set happens.

- :mod:`.state` -- :class:`LiveView`, events and blocks folded into one JSON-able state
  (shared by every display).
- :mod:`.web` -- :class:`WebView`, the page served by the analyzer (``--web``): WebSocket push,
  bound to localhost unless ``--host`` says otherwise, no external assets.
- :mod:`.terminal` -- :class:`TerminalTable` (a rich live table in a terminal) and the plain
  line fallback for pipes.
- :mod:`.sound` -- :class:`CuePlayer`, audio cues on warning and tempo failure (``--sound``),
  with an injectable sink.
- :mod:`.hub` -- the flags and :func:`open_displays`, used by ``live`` and ``replay``.

Heavy imports (websockets, rich) happen only when a display is used.
"""

from __future__ import annotations

from .state import LiveView, rep_state

__all__ = ["LiveView", "rep_state"]
