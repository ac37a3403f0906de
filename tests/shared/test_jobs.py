"""The print job lifecycle: every (current, new) pair is either in the table or refused."""

from __future__ import annotations

import itertools

import pytest

from shared.events import JobState
from shared.jobs import (
    JOB_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    can_transition,
    is_terminal,
    reason,
    transition,
)

ALLOWED: set[tuple[JobState, JobState]] = {
    ("queued", "sent"),
    ("queued", "expired"),
    ("queued", "failed"),
    ("sent", "printing"),
    ("sent", "queued"),
    ("sent", "printed"),
    ("sent", "failed"),
    ("sent", "expired"),
    ("printing", "printed"),
    ("printing", "failed"),
    ("printing", "queued"),
    ("sent", "unconfirmed"),
    ("printing", "unconfirmed"),
    ("sent", "sent_to_printer"),
    ("printing", "sent_to_printer"),
}
ALL_PAIRS = list(itertools.product(JOB_STATES, repeat=2))


def test_states_come_from_the_wire_contract() -> None:
    assert JOB_STATES == (
        "queued",
        "sent",
        "printing",
        "printed",
        "failed",
        "expired",
        "unconfirmed",
        "sent_to_printer",
    )


def test_the_table_is_exactly_the_lifecycle() -> None:
    assert set(TRANSITIONS) == ALLOWED
    assert all(TRANSITIONS[pair] for pair in ALLOWED)


@pytest.mark.parametrize(("current", "new"), sorted(ALLOWED))
def test_allowed_transition_returns_the_new_state(current: JobState, new: JobState) -> None:
    assert transition(current, new) == new
    assert can_transition(current, new)
    assert reason(current, new) == TRANSITIONS[current, new]


@pytest.mark.parametrize(("current", "new"), sorted(set(ALL_PAIRS) - ALLOWED))
def test_every_other_pair_is_illegal(current: str, new: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(current, new)
    expected = "job_already_final" if current in TERMINAL_STATES else "illegal_job_transition"
    assert caught.value.code == expected
    assert current in caught.value.message and new in caught.value.message
    assert not can_transition(current, new)
    assert reason(current, new) is None


def test_terminal_states() -> None:
    final = ["printed", "failed", "expired", "unconfirmed", "sent_to_printer"]
    assert set(TERMINAL_STATES) == set(final)
    assert [s for s in JOB_STATES if is_terminal(s)] == final
    assert not any(is_terminal(s) for s in ("queued", "sent", "printing"))


def test_an_unconfirmed_job_is_never_sent_again_by_itself() -> None:
    assert not any(can_transition("unconfirmed", s) for s in JOB_STATES)
    assert {c for c, n in TRANSITIONS if n == "unconfirmed"} == {"sent", "printing"}


def test_no_state_moves_to_itself() -> None:
    assert not any(can_transition(s, s) for s in JOB_STATES)


@pytest.mark.parametrize(("current", "new"), [("queued", "done"), ("lost", "queued"), ("", "")])
def test_unknown_states_are_refused_with_their_own_code(current: str, new: str) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(current, new)
    assert caught.value.code == "unknown_job_state"
    assert not can_transition(current, new)


def test_is_terminal_refuses_unknown_state() -> None:
    with pytest.raises(IllegalTransition):
        is_terminal("done")
