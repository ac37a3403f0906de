"""The simulated printer's brain: queries out of the stream, answers per state, printed jobs."""

from __future__ import annotations

import threading

import pytest

from agent.simulators.brain import (
    STATUS_REPLIES,
    PrinterBrain,
    QuerySplitter,
    SimMode,
    SimState,
    split_jobs,
)
from shared.escpos import star_line
from shared.escpos.raster import Raster
from shared.escpos.star import parse_asb
from shared.escpos.star_identity import VERSION_REQUEST, version_reply
from shared.escpos.status import ALL_STATUS_QUERIES, StatusKind, is_status_byte, parse_status
from shared.printers import PrinterState

EXPECTED_STATE = {
    SimState.OK: PrinterState.ONLINE,
    SimState.PAPER_NEAR_END: PrinterState.PAPER_NEAR_END,
    SimState.PAPER_OUT: PrinterState.PAPER_OUT,
    SimState.COVER_OPEN: PrinterState.COVER_OPEN,
    SimState.OFFLINE: PrinterState.OFFLINE,
    SimState.ERROR: PrinterState.ERROR,
    SimState.POWERED_OFF: PrinterState.UNKNOWN,
}


@pytest.mark.parametrize("state", list(SimState))
def test_replies_are_real_status_bytes_meaning_the_state(state: SimState) -> None:
    brain = PrinterBrain(state)
    replies = brain.receive(ALL_STATUS_QUERIES)
    assert all(is_status_byte(b) for b in replies)
    padded = [*replies, *[None] * (4 - len(replies))]
    assert parse_status(*padded).state is EXPECTED_STATE[state]


def test_every_state_has_replies_or_silence() -> None:
    assert set(STATUS_REPLIES) == set(SimState)
    assert STATUS_REPLIES[SimState.POWERED_OFF] is None


def test_query_split_across_reads_is_still_answered() -> None:
    brain = PrinterBrain()
    assert brain.receive(b"abc\x10") == b""
    assert brain.receive(b"\x04") == b""
    assert brain.receive(b"\x01def") == b"\x12"
    assert brain.printed == b"abcdef"
    assert brain.queries == 1


def test_dle_not_followed_by_eot_is_data() -> None:
    splitter = QuerySplitter()
    assert splitter.feed(b"\x10\x05x\x10\x04\x09") == (b"\x10\x05x\x10\x04\x09", [])


def test_queries_in_the_middle_of_data() -> None:
    data, queries = QuerySplitter().feed(b"A\x10\x04\x02B\x10\x04\x04C")
    assert data == b"ABC"
    assert queries == [StatusKind.OFFLINE_CAUSE, StatusKind.PAPER_SENSOR]


@pytest.mark.parametrize("state", [SimState.PAPER_OUT, SimState.COVER_OPEN, SimState.ERROR])
def test_not_ready_printer_does_not_print(state: SimState) -> None:
    brain = PrinterBrain(state)
    brain.receive(b"job-1\x1dV\x00")
    assert brain.printed == b""
    assert brain.rejected == b"job-1\x1dV\x00"
    assert brain.cuts == 0


def test_powered_off_receives_nothing() -> None:
    brain = PrinterBrain(SimState.POWERED_OFF)
    assert brain.receive(b"\x10\x04\x01hello") == b""
    assert brain.raw == b""
    assert not brain.powered


def test_jobs_end_with_cuts() -> None:
    printed = b"one\x1dV\x00two\x1dVA\x03three\x1dV\x01tail"
    assert split_jobs(printed) == [b"one\x1dV\x00", b"two\x1dVA\x03", b"three\x1dV\x01"]


def test_count_jobs_containing_a_correlation_id() -> None:
    brain = PrinterBrain()
    brain.receive(b"corr-1\x1dV\x00corr-2\x1dV\x00corr-1 again\x1dV\x00")
    assert brain.count_jobs_containing("corr-1") == 2
    assert brain.count_jobs_containing(b"corr-2") == 1
    assert brain.cuts == 3


def test_answer_status_false_never_answers() -> None:
    brain = PrinterBrain(answer_status=False)
    assert brain.receive(ALL_STATUS_QUERIES) == b""
    assert brain.status_reply(StatusKind.PRINTER) is None


def test_state_can_change_from_another_thread() -> None:
    brain = PrinterBrain()
    heard: list[SimState] = []
    brain.add_listener(heard.append)
    worker = threading.Thread(target=brain.set_state, args=("cover_open",))
    worker.start()
    worker.join(timeout=5)
    assert brain.state is SimState.COVER_OPEN
    assert heard == [SimState.COVER_OPEN]


def test_clear_forgets_everything() -> None:
    brain = PrinterBrain()
    brain.receive(b"x\x1dV\x00\x10\x04\x01")
    brain.clear()
    assert (brain.raw, brain.printed, brain.queries) == (b"", b"", 0)


def test_star_mode_answers_star_requests_and_no_dle_eot() -> None:
    brain = PrinterBrain(SimState.PAPER_OUT, mode="star")
    asb = brain.receive(b"\x1b\x06\x01")
    assert asb[:2] == b"\x23\x06" and len(asb) == 9  # 9-byte ASB, version 3
    assert parse_asb(asb).paper_out
    assert brain.receive(b"\x05") == bytes((0x28,))  # ENQ: buffer empty + paper end
    assert brain.receive(b"\x10\x04\x01") == bytes((0x1C,))  # DLE EOT 1 gets Star's EOT reply
    assert not brain.asb_enabled
    brain.receive(b"\x1b\x1ea\x01")
    assert brain.asb_enabled and brain.printed == b""
    brain.receive(b"\x1b\x07\x0a\x32\x07")  # BEL: in order, held while the paper is out
    brain.receive(b"\x1b\x07\x0a\x32\x1c")  # FS: at once
    assert [(p.command, p.on_ms) for p in brain.pulses] == [("FS", 100)]


def test_star_mode_without_asb_ignores_the_request() -> None:
    brain = PrinterBrain(SimState.COVER_OPEN, mode="star", asb=False)
    assert brain.receive(b"\x1b\x06\x01") == b""
    assert brain.receive(b"\x05") == bytes((0x24,))  # other error: the cover, or an error


def test_star_mode_reads_commands_whole_so_image_bytes_are_no_requests() -> None:
    brain = PrinterBrain(mode="star")
    image = star_line.bit_image(Raster(8, 24, bytes([0x05] * 24)))  # ENQ-looking columns
    qr = star_line.qr_code(b"\x04\x05", 4)  # EOT and ENQ as QR data
    assert brain.receive(image + qr) == b"" and brain.queries == 0
    assert brain.printed == image + qr
    [printed] = brain.paper().images
    assert (printed.width, printed.height) == (8, 24)
    assert [q.data for q in brain.paper().qr_codes] == [b"\x04\x05"]


def test_star_mode_waits_for_the_end_of_a_split_command() -> None:
    brain = PrinterBrain(mode="star")
    job = star_line.initialize() + b"RECEIPT-9\n" + star_line.qr_code(b"abc", 4)
    job += star_line.cut(partial=True)
    brain.receive(job[:-6])
    assert brain.jobs == [] and len(brain.printed) < len(job) - 6
    assert brain.receive(job[-6:] + b"\x05") == bytes((0x20,))  # then ENQ: buffer empty
    assert brain.printed == job and brain.count_jobs_containing("RECEIPT-9") == 1
    paper = brain.paper()
    assert paper.texts == ["RECEIPT-9"] and [c.partial for c in paper.cuts] == [True]


def test_esc_pos_cuts_nothing_on_a_star_mode_printer() -> None:
    brain = PrinterBrain(mode="star")
    brain.receive(b"\x1b@ESCPOS\n\x1dV\x00")
    assert brain.jobs == [] and brain.cuts == 0
    assert [t.args for t in brain.paper().unknown] == [(0x1D,), (0x00,)]


@pytest.mark.parametrize(
    ("mode", "text"), [("star", "TSP654 Ver2.1"), ("star_graphic", "TSP143IIIL Ver1.2")]
)
def test_star_modes_answer_the_version_request_with_their_model(mode: SimMode, text: str) -> None:
    brain = PrinterBrain(mode=mode)
    assert brain.receive(VERSION_REQUEST[:3]) == b""  # split: waits for the rest
    assert brain.receive(VERSION_REQUEST[3:]) == version_reply(text)
    assert brain.printed == b"" and brain.version_queries == 1 and brain.queries == 0


def test_the_version_request_goes_unanswered_when_not_ready_or_not_known() -> None:
    offline = PrinterBrain(SimState.COVER_OPEN, mode="star")
    assert offline.receive(VERSION_REQUEST) == b""
    silent = PrinterBrain(mode="star_graphic", star_version=None)
    assert silent.receive(VERSION_REQUEST) == b"" and silent.version_queries == 1
    custom = PrinterBrain(mode="star", star_version="TSP847II Ver1.0")
    assert custom.receive(VERSION_REQUEST) == version_reply("TSP847II Ver1.0")
    assert PrinterBrain().star_version is None  # an ESC/POS printer has no Star version
