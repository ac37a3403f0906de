"""Printers typed in by hand."""

from __future__ import annotations

import pytest

from agent.discovery.manual import ManualEntryError, manual_printer, manual_printers, parse_address
from agent.discovery.network import network_printer_id, normalize_host
from shared.printers import DiscoverySource


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("192.168.1.50", ("192.168.1.50", 9100)),
        ("192.168.1.50:9101", ("192.168.1.50", 9101)),
        (" Kitchen-Printer.local ", ("kitchen-printer.local", 9100)),
        ("printer.lan.:515", ("printer.lan", 515)),
        ("[fe80::1]:9100", ("fe80::1", 9100)),
        ("::1", ("::1", 9100)),
        ("[::1]", ("::1", 9100)),
    ],
)
def test_parse_address(entry: str, expected: tuple[str, int]) -> None:
    assert parse_address(entry) == expected


@pytest.mark.parametrize(
    "entry", ["", "   ", "host:0", "host:65536", "host:abc", "bad host", "host:", "-x.local", "a_b"]
)
def test_bad_addresses_are_refused_clearly(entry: str) -> None:
    with pytest.raises(ManualEntryError) as caught:
        parse_address(entry)
    assert caught.value.code == "bad_printer_address"


def test_manual_printer() -> None:
    info = manual_printer("10.0.0.7", name="Bar")
    assert info.printer_id == "net:10.0.0.7:9100"
    assert info.source is DiscoverySource.MANUAL
    assert (info.host, info.port, info.name) == ("10.0.0.7", 9100, "Bar")


def test_duplicates_collapse() -> None:
    found = manual_printers(["10.0.0.7", "10.0.0.7:9100", "10.0.0.8"])
    assert [p.printer_id for p in found] == ["net:10.0.0.7:9100", "net:10.0.0.8:9100"]


def test_network_ids_are_spelled_one_way() -> None:
    assert network_printer_id("Printer.LOCAL.") == "net:printer.local:9100"
    assert network_printer_id("[FE80::0001%eth0]", 9101) == "net:fe80::1:9101"
    assert normalize_host(" 10.0.0.1 ") == "10.0.0.1"
