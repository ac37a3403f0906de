"""mDNS discovery against simulators announced on the loopback interface only."""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf
from zeroconf.asyncio import AsyncZeroconf

from agent.discovery.mdns import IPP, LPD_PRINTER, MdnsService, discover_mdns, instance_name
from agent.simulators.brain import SimState
from agent.simulators.fleet import SimulatorFleet
from agent.simulators.network import SimulatedNetworkPrinter
from shared.printers import DiscoverySource, PrinterState
from tests.agent.support import free_port, within

LOOPBACK = ["127.0.0.1"]


def _loopback_mdns_available() -> str | None:
    """Why mDNS cannot run on 127.0.0.1 here, or None when it can."""
    try:
        Zeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only).close()
    except OSError as exc:  # e.g. no multicast on lo in some containers
        return f"zeroconf cannot bind to 127.0.0.1 on this machine: {exc}"
    return None


_UNAVAILABLE = _loopback_mdns_available()
pytestmark = pytest.mark.skipif(_UNAVAILABLE is not None, reason=str(_UNAVAILABLE))


def service(kind: str, name: str, host: str, port: int) -> ServiceInfo:
    return ServiceInfo(
        kind,
        f"{name}.{kind}",
        addresses=[socket.inet_aton(host)],
        port=port,
        server=f"{name.lower().replace(' ', '-')}.local.",
    )


@pytest.fixture
async def announcer() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    yield zc
    async with asyncio.timeout(5):
        await zc.async_unregister_all_services()
        await zc.async_close()


async def test_fleet_and_other_printer_services_are_discovered(announcer: AsyncZeroconf) -> None:
    raw_port = free_port()
    # Other runs on this machine may announce at the same time: unique names and hosts.
    token = uuid.uuid4().hex[:8]
    subnet = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}"
    fleet = SimulatorFleet(2, states=[SimState.OK, SimState.COVER_OPEN], name_prefix=f"Sim {token}")
    async with (
        fleet,
        SimulatedNetworkPrinter(host=f"{subnet}.2", port=raw_port) as behind_ipp,
    ):
        # An IPP printer whose raw port speaks ESC/POS, and one where nothing listens.
        await asyncio.gather(
            announcer.async_register_service(service(IPP, f"Office {token}", f"{subnet}.2", 631)),
            announcer.async_register_service(
                service(LPD_PRINTER, f"Laser {token}", f"{subnet}.3", 515)
            ),
        )
        with within(6.0):
            found = await discover_mdns(interfaces=LOOPBACK, raw_port=raw_port)
        by_id = {p.printer_id: p for p in found}

        # Candidates carry the address id: the scanner identifies them (serial ids) afterwards.
        sims = {p.address_id: p for p in fleet.printers}
        for printer_id, sim in sims.items():
            info = by_id[printer_id]
            assert info.source is DiscoverySource.MDNS
            assert (info.host, info.port, info.name) == ("127.0.0.1", sim.port, sim.name)
            assert (info.manufacturer, info.model) == ("Chit", "SimPrinter")
        statuses = {by_id[pid].status.state for pid in sims if by_id[pid].status}
        assert statuses == {PrinterState.ONLINE, PrinterState.COVER_OPEN}

        ipp = by_id[behind_ipp.address_id]  # the advertised port 631 is not used
        assert (ipp.host, ipp.port, ipp.name) == (f"{subnet}.2", raw_port, f"Office {token}")
        assert not any(p.host == f"{subnet}.3" for p in found)


def test_txt_record_model_and_maker() -> None:
    svc = MdnsService(IPP, "x", "10.0.0.1", 631, {"product": "(TM-T88V)", "usb_MFG": "EPSON"})
    assert (svc.model, svc.manufacturer) == ("TM-T88V", "EPSON")
    assert MdnsService(IPP, "x", "10.0.0.1", 631, {"ty": "EPSON TM-m30"}).model == "EPSON TM-m30"
    assert MdnsService(IPP, "x", "10.0.0.1", 631).model is None


def test_instance_name() -> None:
    assert instance_name(f"Kitchen TM.{IPP}", IPP) == "Kitchen TM"
