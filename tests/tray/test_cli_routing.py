"""`chit-agent` picks the tray with a display and PySide6, the headless agent otherwise."""

from __future__ import annotations

import pytest

from agent import cli


def args(*argv: str) -> object:
    return cli._parser().parse_args(list(argv))


def test_has_display() -> None:
    assert cli.has_display({"DISPLAY": ":0"}, "linux")
    assert cli.has_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not cli.has_display({}, "linux")
    assert cli.has_display({}, "win32") and cli.has_display({}, "darwin")


@pytest.mark.parametrize(
    ("argv", "display", "available", "tray"),
    [
        ((), True, True, True),
        (("run",), True, True, True),
        (("run", "--headless"), True, True, False),
        (("run",), False, True, False),
        ((), True, False, False),
        (("discover",), True, True, False),
        (("pair", "ABCD-EFGH"), True, True, False),
    ],
)
def test_wants_tray(argv: tuple[str, ...], display: bool, available: bool, tray: bool) -> None:
    assert cli.wants_tray(args(*argv), display, available) is tray  # type: ignore[arg-type]


def test_main_starts_the_tray_with_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str | None, bool]] = []
    monkeypatch.setattr(cli, "has_display", lambda: True)
    monkeypatch.setattr(cli, "tray_available", lambda: True)
    monkeypatch.setattr(
        cli, "_start_tray", lambda hub, verbose: started.append((hub, verbose)) or 0
    )
    assert cli.main(["run", "--hub", "http://hub:3001"]) == 0
    assert started == [("http://hub:3001", False)]
