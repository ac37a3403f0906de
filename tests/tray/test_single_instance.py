"""One tray agent per user: the second launch knocks and the first is brought forward."""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("PySide6.QtNetwork", reason="PySide6 is not installed (pip install '.[tray]')")
pytest.importorskip("pytestqt", reason="pytest-qt is not installed (pip install '.[dev]')")

from pytestqt.qtbot import QtBot

from agent.tray.single_instance import SingleInstance, instance_name


def test_the_second_instance_hands_over_to_the_first(qtbot: QtBot) -> None:
    name = f"chit-agent-test-{uuid.uuid4().hex[:8]}"
    first, second = SingleInstance(name), SingleInstance(name)
    try:
        assert first.claim()
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert not second.claim()
    finally:
        first.release()
    third = SingleInstance(name)
    assert third.claim()
    third.release()


def test_the_name_is_per_user_and_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    before = instance_name()
    monkeypatch.setenv("CHIT_AGENT_CONFIG_DIR", "/elsewhere")
    assert instance_name() != before and before.startswith("chit-agent-")
