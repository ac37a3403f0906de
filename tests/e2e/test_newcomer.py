"""A newcomer's first hour (issue 17): the README followed literally, as text.

The commands are read from the README's marked blocks (see ``tests/e2e/readme.py``) and run
as written with bash, from the repository, on fresh per-user directories (``XDG_*`` point into
the test's tmp dir, so the hub's and the agent's default data and config directories are new)
and a free port instead of 3001 (``CHIT_HUB_PORT``; every ``127.0.0.1:3001`` in the README is
read as that port). Each step's output is checked against what the README says it prints; the
demo's printed logins are used in headless Chromium, and no page may show ``null``,
``undefined``, ``[object Object]`` or Python's internals. Programs are stopped as a person
stops them, with Ctrl+C (SIGINT to the process group), and must stop quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.readme import ROOT, Step, line_pattern, steps, unmatched
from tests.support import free_port
from tests.web.browser import Browser, needs_browser

pytestmark = [pytest.mark.slow, needs_browser, pytest.mark.timeout(420)]

README_PORT = "127.0.0.1:3001"
#: The first run of run-hub.sh may install the hub into .venv.
START_TIMEOUT = 240.0
STEP_TIMEOUT = 60.0
INTERNALS = (
    "null",
    "undefined",
    "[object Object]",
    "Traceback",
    "Errno",
    "Connect call failed",
    "NoneType",
)


# --- the README's text, checked without running anything ---------------------------------


def test_the_readme_marks_every_step_the_test_follows() -> None:
    found = steps()
    for name in ("demo", "listen", "publish", "simulate", "discover", "serve", "user"):
        assert name in found, f"README lost its {name!r} step"
    assert 'companyId":"demo"' in found["publish"].command, "publish to the demo's tenant"
    assert "jwt_leeway_seconds" in (ROOT / "README.md").read_text()
    assert "CHIT_TEST_REDIS_URL" in (ROOT / "README.md").read_text()


def test_promised_lines_allow_what_varies_and_nothing_else() -> None:
    pattern = line_pattern("  Manager   demo-manager / <password>   (branch demo-main)")
    assert pattern.fullmatch("Manager   demo-manager / a-B_c9d8e7f6   (branch demo-main)")
    assert not pattern.fullmatch("Manager   demo-manager / a-B_c9d8e7f6   (branch other)")
    assert unmatched("a\n<port> b", ["x", "a", "y", "8080 b"]) == []
    assert unmatched("a\nb", ["b", "a"]) == ["b"]


# --- running it ---------------------------------------------------------------------------


@dataclass
class Newcomer:
    """A person at a terminal in the repository, on a fresh account."""

    home: Path
    port: int
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CHIT_HUB_", "CHIT_AGENT_", "XDG_"))
            and k not in ("DISPLAY", "WAYLAND_DISPLAY")
        }
        for name in ("DATA", "CONFIG", "STATE", "CACHE"):
            env[f"XDG_{name}_HOME"] = str(self.home / name.lower())
        env["CHIT_HUB_PORT"] = str(self.port)
        # A newcomer's PC runs no agent service: never find one this machine may run.
        env["CHIT_AGENT_CONTROL_SOCKET"] = os.environ["CHIT_AGENT_CONTROL_SOCKET"]
        return env

    def text(self, text: str) -> str:
        """README text as it applies here: its port 3001 is our free port."""
        return text.replace(README_PORT, f"127.0.0.1:{self.port}")

    async def start(self, step: Step, stdin: bytes | None = None) -> asyncio.subprocess.Process:
        """Run a step's command as written, in its own process group (like a terminal tab)."""
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-e",
            "-c",
            self.text(step.command),
            cwd=ROOT,
            env=self.env(),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.procs.append(proc)
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            await proc.stdin.drain()
            proc.stdin.close()
        return proc

    async def run(self, step: Step, stdin: bytes | None = None) -> tuple[str, str]:
        """Run a step to its end; its stdout and stderr."""
        proc = await self.start(step, stdin)
        out, err = await asyncio.wait_for(proc.communicate(), STEP_TIMEOUT)
        assert proc.returncode == 0, (step.name, proc.returncode, out, err)
        assert_quiet(step.name, err.decode())
        return out.decode(), err.decode()

    async def ctrl_c(self, proc: asyncio.subprocess.Process, name: str) -> None:
        """Stop a running step with Ctrl+C: it exits at once, with code 0 and no traceback."""
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.stderr is not None
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, (name, rest)
        assert_quiet(name, rest.decode())

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


def assert_quiet(name: str, stderr: str) -> None:
    """Nothing a person should not see on the terminal."""
    for bad in ("Traceback", "CancelledError", "Warning:", "Unclosed"):
        assert bad not in stderr, (name, stderr)


def assert_promised(step: Step, lines: list[str], newcomer: Newcomer) -> None:
    """The step printed every line the README says it prints."""
    assert step.output is not None, f"README promises no output for {step.name!r}"
    missing = unmatched(newcomer.text(step.output), lines)
    assert not missing, (step.name, missing, lines)


async def read_until(
    stream: asyncio.StreamReader, done: re.Pattern[str], timeout: float = STEP_TIMEOUT
) -> list[str]:
    """Lines up to and including the first that matches ``done``."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while not lines or not done.search(lines[-1]):
            raw = await stream.readline()
            assert raw, f"the program ended; it printed {lines}"
            lines.append(raw.decode().rstrip("\n"))
    return lines


@contextlib.asynccontextmanager
async def newcomer_at(home: Path) -> AsyncIterator[Newcomer]:
    person = Newcomer(home, free_port())
    try:
        yield person
    finally:
        await person.stop_all()


# --- the browser ---------------------------------------------------------------------------


async def page_text(browser: Browser) -> str:
    return str(await browser.js("return document.querySelector('main').innerText"))


def assert_plain(where: str, text: str) -> None:
    for internal in INTERNALS:
        found = re.search(rf"(?<![\w-]){re.escape(internal)}(?![\w-])", text)
        assert found is None, (where, internal, text)


async def sign_in(browser: Browser, url: str, username: str, password: str) -> None:
    await browser.get(url + "/")
    await browser.js("sessionStorage.clear()")
    await browser.get(url + "/#/login")
    await browser.type("#username", username)
    await browser.type("#password", password)
    await browser.click("#login-form button[type=submit]")
    await browser.find("#branches")


async def tour_as_manager(browser: Browser, url: str, password: str) -> None:
    """What the README tells the demo's manager to do, and that each page reads well."""
    await sign_in(browser, url, "demo-manager", password)
    await browser.until("return document.querySelector('#branches li') !== null")
    assert_plain("branches", await page_text(browser))
    await browser.click('a[href="#/branches/demo-main"]')
    await browser.until("return document.querySelectorAll('li.printer').length === 3", timeout=30)
    printers = await browser.js(
        "return Object.fromEntries([...document.querySelectorAll('li.printer')].map("
        "li => [li.querySelector('.printer-name').textContent,"
        " li.querySelector('.printer-badge').textContent]))"
    )
    assert sorted(printers) == ["Bar", "Front counter", "Kitchen"], printers
    assert printers["Front counter"] == "Paper low", printers
    row = await browser.js(
        "return [...document.querySelectorAll('li.printer')].find("
        "li => li.querySelector('.printer-name').textContent === 'Kitchen').dataset.printerId"
    )
    kitchen = f'li.printer[data-printer-id="{row}"]'
    await browser.click(f"{kitchen} .test-button")
    await browser.find(f'{kitchen} .test-result[data-outcome="success"]', timeout=30)
    assert "Test page printed" in await browser.text(f"{kitchen} .test-result")
    await browser.find('#tests-table tr[data-state="printed"]')
    assert "Kitchen" in await browser.text('#tests-table tr[data-state="printed"]')
    assert_plain("branch", await page_text(browser))
    await browser.screenshot("newcomer-branch")
    await browser.click('a[href="#/branches/demo-main/agents"]')
    await browser.find("h1")
    await browser.until("return !document.querySelector('main').innerText.includes('Loading')")
    assert_plain("agents", await page_text(browser))
    await browser.get(url + "/#/dashboard")
    note = await browser.text("#dash-note")
    assert "demo-admin" in note, note
    assert_plain("monitoring (manager)", await page_text(browser))


async def tour_as_admin(browser: Browser, url: str, password: str) -> None:
    """The demo's admin sees the Monitoring charts, as the demo's banner says."""
    await browser.console_errors()  # the manager's expected 403 on the charts, read and gone
    await sign_in(browser, url, "demo-admin", password)
    assert_plain("branches (admin)", await page_text(browser))
    await browser.get(url + "/#/dashboard")
    await browser.until("return Number(document.querySelector('.view').dataset.polls) >= 1")
    assert await browser.js("return document.querySelector('.dash-grid').hidden") is False
    assert_plain("monitoring (admin)", await page_text(browser))
    await browser.screenshot("newcomer-monitoring")
    assert await browser.console_errors() == []


# --- the first hour ----------------------------------------------------------------------


async def demo_and_events(person: Newcomer, browser: Browser, readme: dict[str, Step]) -> None:
    """Try the demo; send an event and watch it arrive; sign in with the printed logins."""
    demo = await person.start(readme["demo"])
    assert demo.stdout is not None
    banner = await read_until(demo.stdout, re.compile(r"Stop with Ctrl\+C"), START_TIMEOUT)
    assert_promised(readme["demo"], banner, person)
    text = "\n".join(banner)
    manager = re.search(r"demo-manager / (\S+)", text)
    admin = re.search(r"demo-admin / (\S+)", text)
    assert manager and admin, banner

    listen = await person.start(readme["listen"])
    assert listen.stdout is not None and listen.stderr is not None
    await read_until(listen.stderr, re.compile("listening on /orders"))
    out, _ = await person.run(readme["publish"])
    assert_promised(readme["publish"], out.splitlines(), person)
    heard = await read_until(listen.stdout, re.compile("newOrder"), 10)
    assert_promised(readme["listen"], heard, person)

    await tour_as_manager(browser, person.url, manager.group(1))
    await tour_as_admin(browser, person.url, admin.group(1))
    await person.ctrl_c(listen, "listen")
    await person.ctrl_c(demo, "demo")


SIMULATED = ("Kitchen", "Bar", "Front counter")


def as_announced(text: str, names: list[str]) -> str:
    """README text with the simulators' names as announced: a name another simulator on this
    machine already took gets a suffix from mDNS ("Kitchen-2")."""
    renamed = dict(zip(SIMULATED, names, strict=True))
    pattern = "|".join(re.escape(name) for name in SIMULATED)
    return re.sub(rf"\b({pattern})\b", lambda m: renamed[m.group(1)], text)


async def agent_alone(person: Newcomer, readme: dict[str, Step]) -> None:
    """Simulated printers; discover finds them by name; a test page on Kitchen."""
    simulate = await person.start(readme["simulate"])
    assert simulate.stdout is not None
    lines = [
        (await asyncio.wait_for(simulate.stdout.readline(), STEP_TIMEOUT)).decode().rstrip()
        for _ in SIMULATED
    ]
    names = [line.split(": 127.0.0.1:")[0] for line in lines]
    assert [re.sub(r"-\d+$", "", name) for name in names] == list(SIMULATED), lines
    promised = as_announced(readme["simulate"].output or "", names)
    assert_promised(Step("simulate", "", promised), lines, person)

    step = readme["discover"]
    discover = Step(step.name, as_announced(step.command, names), step.output)
    out, _ = await person.run(discover)
    found = out.splitlines()
    # Simulators other tests run on this machine at the same time may be listed as well.
    counts = [int(m.group(1)) for line in found if (m := re.fullmatch(r"(\d+) printer\(s\)", line))]
    assert counts and counts[0] >= len(SIMULATED), found
    promised = as_announced(step.output or "", names).replace(
        f"{len(SIMULATED)} printer(s)", f"{counts[0]} printer(s)"
    )
    assert_promised(Step(step.name, "", promised), found, person)
    await person.ctrl_c(simulate, "simulate")


async def own_hub(person: Newcomer, readme: dict[str, Step]) -> None:
    """Run the hub on a fresh data directory; its first admin signs in; add an account."""
    serve = await person.start(readme["serve"])
    assert serve.stdout is not None
    lines = await read_until(serve.stdout, re.compile("listening on"), START_TIMEOUT)
    assert_promised(readme["serve"], lines, person)
    first = re.search(r"username 'admin', password '([^']+)'", "\n".join(lines))
    assert first, lines
    out, _ = await person.run(readme["user"], stdin=b"a long password for ana\n")
    assert_promised(readme["user"], out.splitlines(), person)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        async with http.get(person.url + "/healthz") as resp:
            assert resp.status == 200
        for username, password in (("admin", first.group(1)), ("ana", "a long password for ana")):
            body = {"username": username, "password": password}
            async with http.post(person.url + "/api/v1/auth/login", json=body) as resp:
                assert resp.status == 200, (username, await resp.text())
    await person.ctrl_c(serve, "serve")


async def test_the_readme_followed_literally(tmp_path: Path) -> None:
    readme = steps()
    browser = await Browser.start()
    try:
        async with newcomer_at(tmp_path / "first") as person:
            await demo_and_events(person, browser, readme)
            await agent_alone(person, readme)
    finally:
        await browser.close()
    async with newcomer_at(tmp_path / "second") as person:
        await own_hub(person, readme)
