"""Network printers are known by who they are: serial, else MAC, else address."""

from __future__ import annotations

from pathlib import Path

from agent.discovery.identify import NetworkIdentifier, arp_mac, ask_network_identity
from agent.discovery.network import network_printer, network_printer_id, normalize_mac
from agent.simulators.brain import SimIdentity
from agent.simulators.network import SimulatedNetworkPrinter
from shared.escpos.identity import PrinterIdentity
from shared.printers import DiscoverySource, PrinterInfo, StatusChannel
from tests.agent.support import free_port, within

SWEEP = DiscoverySource.SWEEP


class Answers:
    """A fake asker: what each address answers, and who was asked."""

    def __init__(self, answers: dict[tuple[str, int], PrinterIdentity]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []
        self.channels: list[StatusChannel | None] = []

    async def __call__(
        self, host: str, port: int, channel: StatusChannel | None
    ) -> PrinterIdentity:
        self.asked.append((host, port))
        self.channels.append(channel)
        return self.answers.get((host, port), PrinterIdentity())


def _printer(serial: str) -> PrinterIdentity:
    return PrinterIdentity(model="TM-T20III", manufacturer="EPSON", serial=serial)


def _no_arp(host: str) -> str | None:
    return None


def test_ids() -> None:
    assert network_printer_id("10.0.0.5", serial="X4V 1/2") == "net:sn:X4V_1_2"
    assert network_printer_id("10.0.0.5", mac="00-26-AB-01-02-03") == "net:mac:0026ab010203"
    assert network_printer_id("10.0.0.5", serial="", mac="00:00:00:00:00:00") == (
        "net:10.0.0.5:9100"
    )
    assert normalize_mac("0026.ab01.0203") is None
    assert normalize_mac("0026AB010203") == "00:26:ab:01:02:03"


async def test_a_dhcp_change_keeps_the_printer() -> None:
    answers = Answers({("10.0.0.5", 9100): _printer("X4V1")})
    identifier = NetworkIdentifier(answers, _no_arp)
    [first] = await identifier.identify([network_printer("10.0.0.5", 9100, SWEEP)], {})
    assert (first.printer_id, first.name) == ("net:sn:X4V1", "TM-T20III at 10.0.0.5")
    await identifier.identify([network_printer("10.0.0.5", 9100, SWEEP)], {})
    assert answers.asked == [("10.0.0.5", 9100)]  # once per address, not per scan

    answers.answers = {("10.0.0.77", 9100): _printer("X4V1")}  # the lease changed
    [moved] = await identifier.identify([network_printer("10.0.0.77", 9100, SWEEP)], {})
    assert (moved.printer_id, moved.host, moved.name) == (
        "net:sn:X4V1",
        "10.0.0.77",
        "TM-T20III at 10.0.0.77",
    )
    # The old address was forgotten: what answers there now is asked afresh.
    answers.answers[("10.0.0.5", 9100)] = _printer("X4V2")
    [other] = await identifier.identify([network_printer("10.0.0.5", 9100, SWEEP)], {})
    assert other.printer_id == "net:sn:X4V2"


async def test_every_source_at_one_address_gets_the_same_id() -> None:
    identifier = NetworkIdentifier(Answers({("10.0.0.5", 9100): _printer("X4V1")}), _no_arp)
    found = [
        network_printer("10.0.0.5", 9100, DiscoverySource.MDNS, name="Bar", mac="00:26:ab:1:2:3"),
        network_printer("10.0.0.5", 9100, SWEEP),
        network_printer("10.0.0.6", 9100, DiscoverySource.MDNS, mac="00:26:AB:01:02:04"),
    ]
    bar, swept, silent = await identifier.identify(found, {})
    assert bar.printer_id == swept.printer_id == "net:sn:X4V1"
    assert bar.name == "Bar"
    assert silent.printer_id == "net:mac:0026ab010204"  # no serial: its MAC


async def test_clones_sharing_a_serial_keep_their_addresses() -> None:
    clones = {("10.0.0.5", 9100): _printer("000000"), ("10.0.0.6", 9100): _printer("000000")}
    identifier = NetworkIdentifier(Answers(clones), _no_arp)
    found = [network_printer(h, 9100, SWEEP) for h in ("10.0.0.5", "10.0.0.6")]
    ids = [p.printer_id for p in await identifier.identify(found, {})]
    assert ids == ["net:10.0.0.5:9100", "net:10.0.0.6:9100"]


async def test_a_silent_printer_keeps_the_id_it_has() -> None:
    identifier = NetworkIdentifier(Answers({}), _no_arp)
    known: dict[str, PrinterInfo] = {
        "net:sn:X4V1": network_printer("10.0.0.5", 9100, SWEEP).model_copy(
            update={"printer_id": "net:sn:X4V1"}
        )
    }
    [again] = await identifier.identify([network_printer("10.0.0.5", 9100, SWEEP)], known)
    assert again.printer_id == "net:sn:X4V1"


async def test_the_arp_table_gives_a_mac(tmp_path: Path) -> None:
    table = tmp_path / "arp"
    table.write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.168.1.40     0x1         0x2         00:26:ab:aa:bb:cc     *        eth0\n"
        "192.168.1.41     0x1         0x0         00:00:00:00:00:00     *        eth0\n"
    )
    assert arp_mac("192.168.1.40", table) == "00:26:ab:aa:bb:cc"
    assert arp_mac("192.168.1.41", table) is None  # incomplete entry
    assert arp_mac("192.168.1.40", tmp_path / "missing") is None
    identifier = NetworkIdentifier(Answers({}), lambda host: arp_mac(host, table))
    [found] = await identifier.identify([network_printer("192.168.1.40", 9100, SWEEP)], {})
    assert (found.printer_id, found.mac) == ("net:mac:0026abaabbcc", "00:26:ab:aa:bb:cc")


async def test_asking_over_tcp_is_bounded() -> None:
    async with SimulatedNetworkPrinter(identity=SimIdentity(serial="X4V7")) as sim:
        identity = await ask_network_identity(sim.host, sim.port)
    assert identity.serial == "X4V7"
    with within(2.0):
        nobody = await ask_network_identity("127.0.0.1", free_port(), connect_timeout=0.5)
    assert not nobody.answered


async def test_a_star_candidate_is_asked_stars_question_and_named_after_its_model() -> None:
    star = PrinterIdentity(model="TSP143IIIL", manufacturer="Star Micronics", firmware="1.2")
    answers = Answers({("10.0.0.6", 9100): star})
    identifier = NetworkIdentifier(answers, _no_arp)
    swept = network_printer("10.0.0.6", 9100, SWEEP, status_channel="star")
    epson = network_printer("10.0.0.7", 9100, SWEEP, status_channel="escpos")
    [found, _] = await identifier.identify([swept, epson], {})
    assert answers.channels == ["star", "escpos"]
    assert (found.printer_id, found.name) == ("net:10.0.0.6:9100", "TSP143IIIL at 10.0.0.6")
    assert (found.model, found.manufacturer, found.firmware) == (
        "TSP143IIIL",
        "Star Micronics",
        "1.2",
    )


async def test_a_star_printer_is_asked_its_version_over_tcp() -> None:
    async with SimulatedNetworkPrinter(mode="star_graphic") as sim:
        with within(2.0):
            identity = await ask_network_identity(sim.host, sim.port, "star")
        assert sim.brain.version_queries == 1 and sim.brain.identity_queries == 0
    assert (identity.model, identity.firmware) == ("TSP143IIIL", "1.2")
    assert sim.brain.printed == b""  # the question prints nothing
