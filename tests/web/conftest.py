"""Fixtures of the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.web.browser import Browser


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium."""
    started = await Browser.start()
    try:
        yield started
    finally:
        await started.close()
