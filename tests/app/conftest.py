"""Fixtures of the AppTest suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.errors import GSError


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    """A new runtime and history service per test (GS_SOURCE unset: the simulator, offline).

    The history service shares the runtime's store, so both are rebuilt together and stopped
    afterwards.
    """
    from components.history import get_history_service
    from components.runtime import get_runtime

    get_runtime.clear()
    get_history_service.clear()
    yield
    try:
        get_runtime().stop()
    except GSError:
        pass  # the test made a runtime that cannot start
    finally:
        get_history_service.clear()
        get_runtime.clear()
