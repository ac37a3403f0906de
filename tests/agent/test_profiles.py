"""The capability profile follows the printer's model, then its vendor, then plays safe."""

from __future__ import annotations

import pytest

from agent.identity import apply_identity, default_name, with_profile
from agent.profiles import CONSERVATIVE_PROFILE, by_model, choose_profile
from agent.render import render_document
from shared.documents import ReceiptDocument
from shared.escpos.identity import PrinterIdentity
from shared.printers import Connection, DiscoverySource, PrinterInfo

EURO = ReceiptDocument.model_validate(
    {"lines": [{"type": "text", "text": "Total 12,50 €"}], "cut": False}
)
#: ESC t 19 selects PC858 (Epson's code page table: "Page 19, PC858: Euro"), where € is D5.
EURO_BYTES = b"\x1bt\x13Total 12,50 \xd5\n"


@pytest.mark.parametrize(
    ("model", "profile"),
    [
        ("TM-T88V", "TM-T88V"),  # exact
        ("tm-t88v", "TM-T88V"),
        ("EPSON TM-T88V Receipt", "TM-T88V"),  # inside a longer product string
        ("TM-T20III", "TM-T20II"),  # the same series, the nearest generation below
        ("TM-T88VI", "TM-T88V"),
        ("TM-T88VII", "TM-T88V"),
        ("TM-T88", "TM-T88II"),  # none below: the nearest above
        ("TM-T88IV", "TM-T88IV"),
        ("TM-U220B", "TM-U220B"),  # the longer exact name, not TM-U220
        ("POS5890 Series", "POS-5890"),  # by the profile's display name
        ("TSP600 Series", "TSP600"),
        ("TM-T20II-42col", "TM-T20II-42col"),  # a column mode only by its exact name
    ],
)
def test_model_matches_the_profile_database(model: str, profile: str) -> None:
    assert by_model(model) == profile
    assert choose_profile(model).reason == "model"


@pytest.mark.parametrize("model", ["TM-m30", "TM-T100", "XP-58", "Series", "TM", "", None])
def test_unknown_models_match_nothing(model: str | None) -> None:
    assert by_model(model) is None


def test_vendor_then_conservative() -> None:
    epson = choose_profile("TM-m30", vendor_id=0x04B8)
    assert (epson.profile, epson.reason) == ("TM-T88III", "vendor")
    by_maker = choose_profile("TM-m30", manufacturer="EPSON")  # a network printer
    assert (by_maker.profile, by_maker.reason) == ("TM-T88III", "vendor")
    generic = choose_profile(None, vendor_id=0x0416)  # a no-name POS58 chip
    assert (generic.profile, generic.reason) == (CONSERVATIVE_PROFILE, "conservative")
    assert choose_profile(None).profile == "conservative"


@pytest.mark.parametrize("model", ["TM-T20III", "TM-T88V"])
def test_euro_prints_as_the_euro_sign(model: str) -> None:
    data = render_document(EURO, profile=choose_profile(model).profile)
    assert EURO_BYTES in data


def test_the_conservative_profile_never_guesses_a_code_page_for_the_euro() -> None:
    data = render_document(EURO, profile=CONSERVATIVE_PROFILE)
    assert b"\x1bt" not in data and b"\x1dv0" in data  # the line goes as an image
    assert b"\x1dV" in render_document(
        EURO.model_copy(update={"cut": True}), profile="conservative"
    )


def _network(**kw: object) -> PrinterInfo:
    fields: dict[str, object] = {
        "printer_id": "net:192.168.1.40:9100",
        "name": "Network printer 192.168.1.40",
        "connection": Connection.NETWORK,
        "source": DiscoverySource.SWEEP,
        "host": "192.168.1.40",
        "port": 9100,
    }
    return PrinterInfo.model_validate({**fields, **kw})


TM_T20III = PrinterIdentity(model="TM-T20III", manufacturer="EPSON", serial="X4V1", firmware="1")


def test_identity_names_the_printer_by_model_and_place_and_picks_its_profile() -> None:
    info = apply_identity(_network(), TM_T20III)
    assert info.name == "TM-T20III at 192.168.1.40"
    assert (info.model, info.manufacturer, info.serial, info.firmware, info.profile) == (
        "TM-T20III",
        "EPSON",
        "X4V1",
        "1",
        "TM-T20II",
    )


def test_a_real_name_stays() -> None:
    named = apply_identity(_network(name="Bar", source=DiscoverySource.MANUAL), TM_T20III)
    assert named.name == "Bar" and named.model == "TM-T20III"


def test_usb_names_and_serials() -> None:
    usb = PrinterInfo(
        printer_id="usb:04b8:0e28:ABC",
        name="EPSON TM-m30 Receipt",
        connection=Connection.USB,
        source=DiscoverySource.USB,
        vendor_id=0x04B8,
        product_id=0x0E28,
        serial="ABC",
    )
    info = apply_identity(usb, PrinterIdentity(model="TM-m30", manufacturer="EPSON", serial="Z9"))
    assert info.name == "EPSON TM-m30 (USB)"
    assert info.serial == "ABC"  # the USB descriptor's serial finds the device
    assert info.profile == "TM-T88III"  # no TM-m30 profile: Epson's vendor profile
    assert default_name(info.model_copy(update={"model": None})) is None


def test_a_printer_that_said_nothing_still_gets_a_profile() -> None:
    assert apply_identity(_network(), PrinterIdentity()) == _network()
    assert with_profile(_network()).profile == CONSERVATIVE_PROFILE
    assert with_profile(_network(profile="TM-T88V")).profile == "TM-T88V"
