"""Headless Debian Chromium driven by selenium, awaited from the test's event loop.

Selenium blocks, and the hub under test runs in the same loop as the test, so every browser
call goes through ``asyncio.to_thread``. Only the system's chromium and chromedriver are used;
nothing is ever downloaded.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
WAIT = 15.0


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            return (
                f"{binary} is missing: run scripts/setup-system.sh (apt chromium chromium-driver)"
            )
    return None


def _driver(profile: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    return driver


class Browser:
    """One headless Chromium with a fresh profile; every method is awaitable."""

    def __init__(self, driver: Any, profile: str) -> None:
        self.driver = driver
        self._profile = profile

    @classmethod
    async def start(cls) -> Browser:
        """Launch chromium (bounded: chromedriver gives up on its own after a while)."""
        profile = tempfile.mkdtemp(prefix="chit-chromium-")
        driver = await asyncio.wait_for(asyncio.to_thread(_driver, profile), 60)
        return cls(driver, profile)

    async def close(self) -> None:
        """Quit the browser and delete its profile."""
        await asyncio.wait_for(asyncio.to_thread(self.driver.quit), 30)
        shutil.rmtree(self._profile, ignore_errors=True)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a blocking selenium function in a thread."""
        return await asyncio.wait_for(asyncio.to_thread(fn, *args), WAIT + 15)

    async def get(self, url: str) -> None:
        """Navigate."""
        await self.run(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        """Run JavaScript in the page and return its value."""
        return await self.run(self.driver.execute_script, script, *args)

    async def find(self, css: str, timeout: float = WAIT) -> Any:
        """The first visible element matching ``css``, waiting for it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, timeout)
        return await self.run(wait.until, ec.visibility_of_element_located((By.CSS_SELECTOR, css)))

    async def all(self, css: str) -> list[Any]:
        """Every element matching ``css`` now."""
        from selenium.webdriver.common.by import By

        return list(await self.run(self.driver.find_elements, By.CSS_SELECTOR, css))

    async def until(self, script: str, *args: Any, timeout: float = WAIT) -> Any:
        """Wait until a JavaScript expression (``return ...``) is truthy; return its value."""
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(self.driver, timeout, poll_frequency=0.1)
        return await self.run(wait.until, lambda d: d.execute_script(script, *args))

    async def text(self, css: str) -> str:
        """The visible text of the first element matching ``css``."""
        element = await self.find(css)
        return str(await self.run(lambda: element.text))

    async def click(self, css: str) -> None:
        """Click the first visible element matching ``css``."""
        element = await self.find(css)
        await self.run(element.click)

    async def type(self, css: str, text: str) -> None:
        """Type into a field."""
        element = await self.find(css)
        await self.run(element.clear)
        await self.run(element.send_keys, text)

    async def screenshot(self, name: str, width: int = 1280) -> Path:
        """Save a full-page screenshot to artifacts/screenshots/``name``.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        cdp = self.driver.execute_cdp_cmd
        await self.run(cdp, "Emulation.setDeviceMetricsOverride", metrics)
        height = await self.js("return document.documentElement.scrollHeight")
        metrics["height"] = max(700, int(height))
        await self.run(cdp, "Emulation.setDeviceMetricsOverride", metrics)
        await self.run(self.driver.save_screenshot, str(path))
        await self.run(cdp, "Emulation.clearDeviceMetricsOverride", {})
        return path

    async def console_errors(self) -> list[str]:
        """Severe messages the page logged to its console."""
        entries = await self.run(self.driver.get_log, "browser")
        return [e["message"] for e in entries if e.get("level") == "SEVERE"]


needs_browser = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
