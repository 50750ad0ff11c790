"""Shared pieces of the BLE tests: a simulated radio neighbourhood and stream collectors.

Every integration test runs a complete BLE stack in-process: Bumble peripherals that speak the
wearables' protocols, Bumble centrals behind imu-tempo's test backend for bleak, one
``LocalLink`` per test.  No mocks of bleak or of the profiles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("bumble", reason="BLE integration tests need Bumble (pip install 'imu-tempo[sim]')")


@pytest.fixture
def arun() -> Callable[..., Any]:
    """Run a coroutine on a fresh event loop with a hard deadline (seconds)."""

    def _run(coro: Any, *, timeout_s: float = 20.0) -> Any:
        async def guarded() -> Any:
            async with asyncio.timeout(timeout_s):
                return await coro

        return asyncio.run(guarded())

    return _run
