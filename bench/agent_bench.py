"""Agent benchmark (loopback only): test-print round trip, discovery time, idle RSS and CPU.

Run: .venv/bin/python -m bench.agent_bench [--prints 200] [--idle 10]

It starts a hub in this process (pinned to CPU 0), two simulated printers, and a real
`chit-agent run --headless` process (on CPU 1), then prints:
- test-print round trip (REST request -> printed on the simulator -> result back) p50/p99,
  to a printer simulated in its own process (`chit-agent simulate`, on CPU 1: a real printer
  is not in the hub's process) and, for comparison in the same run, to one simulated in the
  hub's own process and event loop (as this bench measured before issue 14's last round);
- discovery time per method (manual, 9100 sweep of 127.0.0.0/24, mDNS on loopback, USB with
  the fake backend);
- the agent process's resident memory and CPU use while idle.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from agent.scanner import Scanner
from agent.settings import AgentSettings
from agent.simulators.fleet import SimulatorFleet
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from hub.runner import start_hub
from hub.settings import Settings
from hub.store.tenants import ensure_branch
from shared.printers import DiscoverySource
from shared.tokens import Role, mint

SECRET = "bench-secret-" + "x" * 40


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _pinned(cpu: int) -> list[str]:
    """``taskset -c cpu`` where the machine has it and that CPU (not with ``--no-pin``)."""
    if PIN and shutil.which("taskset") and (os.cpu_count() or 1) > cpu:
        return ["taskset", "-c", str(cpu)]
    return []


async def start_printer_process() -> tuple[asyncio.subprocess.Process, str, str]:
    """One simulated printer in a process of its own: (process, host:port, printer id)."""
    proc = await asyncio.create_subprocess_exec(
        *_pinned(1), sys.executable, "-m", "agent.cli", "simulate", "--count", "1", "--no-mdns",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        line = (await proc.stdout.readline()).decode()
    found = re.search(r": (127\.0\.0\.1:\d+) \((.+)\)$", line.strip())
    if found is None:
        raise RuntimeError(f"chit-agent simulate said {line!r}")
    return proc, found.group(1), found.group(2)


async def start_agent(
    hub_url: str, printers: list[str], workdir: Path
) -> asyncio.subprocess.Process:
    """A real headless agent process configured by environment."""
    token = mint(
        SECRET, sub="agent-bench", role=Role.DESKTOP_APP, company_id="bench", branch_id="b1"
    )
    env = {
        **os.environ,
        "CHIT_AGENT_CONFIG_DIR": str(workdir),
        "CHIT_AGENT_HUB_URL": hub_url,
        "CHIT_AGENT_TOKEN": token,
        "CHIT_AGENT_MANUAL_PRINTERS": ",".join(printers),
        "CHIT_AGENT_MDNS": "false",
        "CHIT_AGENT_USB": "false",
        "CHIT_AGENT_DATA_DIR": str(workdir / "data"),
        # Its own control socket: never the PC's agent service (which would make it refuse).
        "CHIT_AGENT_CONTROL_SOCKET": str(workdir / "control.sock"),
    }
    return await asyncio.create_subprocess_exec(
        *_pinned(1),
        sys.executable,
        "-m",
        "agent.cli",
        "run",
        "--headless",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def wait_for_printers(http: aiohttp.ClientSession, url: str, token: str, count: int) -> None:
    """Until the hub lists ``count`` printers for the bench company."""
    async with asyncio.timeout(30):
        while True:
            async with http.get(
                f"{url}/api/v1/printers", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                if len((await resp.json())["printers"]) >= count:
                    return
            await asyncio.sleep(0.1)


async def round_trips(
    http: aiohttp.ClientSession, url: str, token: str, printer_id: str, n: int
) -> list[float]:
    """Sequential test prints (each a new correlation id); milliseconds per round trip."""
    samples = []
    for _ in range(n):
        i = next(_CORRELATION)
        started = time.perf_counter()
        async with http.post(
            f"{url}/api/v1/printers/{printer_id}/test?correlationId=bench-{i:06d}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            body = await resp.json()
        samples.append((time.perf_counter() - started) * 1000)
        if not body["result"]["success"]:
            raise RuntimeError(f"test print failed: {body}")
    return samples


_CORRELATION = itertools.count()
#: Pin the hub to CPU 0 and the agent and printer to CPU 1 (``--no-pin`` leaves it to the OS).
PIN = True


def proc_usage(pid: int) -> tuple[int, float]:
    """(RSS in KiB, CPU seconds) of a Linux process."""
    rss = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def discovery_times(fleet: SimulatorFleet) -> dict[str, tuple[float, int]]:
    """Seconds and printers found per discovery method."""
    port = fleet.printers[0].port
    settings = AgentSettings(
        manual_printers=tuple(f"127.0.0.1:{p.port}" for p in fleet.printers),
        subnets=("127.0.0.0/24",),
        sweep_port=port,
        mdns=True,
        usb=True,
    )
    backend = FakeUsbBackend([FakeUsbPrinter(serial="BENCH1"), FakeUsbPrinter(serial="BENCH2")])
    report = await Scanner(settings, backend, ["127.0.0.1"]).scan()
    names = {
        DiscoverySource.MANUAL: "manual",
        DiscoverySource.SWEEP: "sweep 127.0.0.0/24",
        DiscoverySource.MDNS: "mDNS (loopback)",
        DiscoverySource.USB: "USB (fake backend)",
        DiscoverySource.QUEUE: "OS print queues",
    }
    out = {}
    for source, seconds in report.seconds.items():
        found = report.found.get(source, 0)
        label = names.get(source, str(source)) + (
            f" [error: {report.errors[source]}]" if source in report.errors else ""
        )
        out[label] = (seconds, found)
    return out


def _figures(label: str, samples: list[float]) -> str:
    return (
        f"test-print round trip over {len(samples)} prints (REST -> agent -> printer -> "
        f"result), {label}: p50 {percentile(samples, 50):.1f} ms, p99 "
        f"{percentile(samples, 99):.1f} ms, mean {statistics.mean(samples):.1f} ms"
    )


async def main(prints: int, idle: float) -> None:
    """Run every measurement and print the figures."""
    if PIN and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})  # the hub; the agent and the printer run on CPU 1
    with tempfile.TemporaryDirectory() as tmp:
        hub = await start_hub(
            Settings(
                host="127.0.0.1",
                port=0,
                data_dir=Path(tmp) / "hub",
                jwt_secret=SECRET,
                printer_test_timeout=10,
            )
        )
        async with hub.ctx.db.session() as s:  # a branch exists only once provisioned
            await ensure_branch(s, "b1", "bench")
        fleet = SimulatorFleet(1, announce=True)
        await fleet.start()
        printer_proc, outside, outside_id = await start_printer_process()
        inside = fleet.printers[0]
        agent = await start_agent(
            hub.url, [outside, f"127.0.0.1:{inside.port}"], Path(tmp) / "agent"
        )
        token = mint(SECRET, sub="bench-manager", role=Role.MANAGER, company_id="bench")
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                await wait_for_printers(http, hub.url, token, 2)
                targets = {
                    "printer in its own process": outside_id,
                    "printer in the hub's process": inside.printer_id,
                }
                samples: dict[str, list[float]] = {label: [] for label in targets}
                for printer_id in targets.values():  # warm-up
                    await round_trips(http, hub.url, token, printer_id, 5)
                for _ in range(2):  # interleaved halves
                    for label, printer_id in targets.items():
                        samples[label] += await round_trips(
                            http, hub.url, token, printer_id, prints // 2
                        )
            for label, values in samples.items():
                print(_figures(label, values))
            await asyncio.sleep(2)
            _, cpu0 = proc_usage(agent.pid)
            await asyncio.sleep(idle)
            rss1, cpu1 = proc_usage(agent.pid)
            print(
                f"agent idle ({idle:g} s, 2 printers polled every 5 s): RSS {rss1 / 1024:.1f} MiB, "
                f"CPU {100 * (cpu1 - cpu0) / idle:.2f}% of one core"
            )
            for label, (seconds, found) in (await discovery_times(fleet)).items():
                print(f"discovery {label}: {seconds * 1000:.0f} ms, {found} printer(s)")
        finally:
            agent.terminate()
            await agent.wait()
            printer_proc.terminate()
            await printer_proc.wait()
            await fleet.stop()
            await hub.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prints", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--no-pin", action="store_true", help="let the OS place the processes")
    options = parser.parse_args()
    PIN = not options.no_pin
    asyncio.run(main(options.prints, options.idle))
