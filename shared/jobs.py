"""The print job lifecycle as a transition table.

A job is created ``queued``. The hub dispatches it to the agent that owns its printer
(``sent``), the agent starts writing bytes (``printing``) and reports the outcome (``printed`` or
``failed``). A job nobody could print before its deadline becomes ``expired``. The hub
redelivers an unfinished job (to a reconnecting agent, or on a schedule) with the *same* job
id, which is the agent's dedupe key, so redelivery never prints twice.

``unconfirmed`` is the honest answer when the bytes may have reached the printer but nobody
knows whether they printed: the agent found the job in ``printing`` after a crash, or the
printer reported a fault (paper out, cover open, no reply) right after the write. Printing it
again by itself could print it twice, so it is final; staff decide, and a reprint is a new job
marked as a copy.

Every allowed move is one row of :data:`TRANSITIONS`; anything not in the table is illegal.
``sent_to_printer`` is the outcome on a printer without a status channel (shared.printers
``none``): the write went through and no status read can confirm it printed. It is "sent",
not "printed", and final like the others (printing it again could print it twice). It differs
from ``sent``, which only says the hub handed the job to the agent.

``printed``, ``failed``, ``expired``, ``unconfirmed`` and ``sent_to_printer`` have no way out:
they are terminal.

The module is sans-IO: the store and the services call :func:`transition` before they write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, get_args

from shared.events import JobState

#: Every job state, in lifecycle order.
JOB_STATES: Final[tuple[JobState, ...]] = get_args(JobState)

#: (current, new) -> why the move happens. The keys are the whole lifecycle.
TRANSITIONS: Final[Mapping[tuple[JobState, JobState], str]] = {
    ("queued", "sent"): "dispatched to the agent",
    ("queued", "expired"): "not dispatched before its deadline",
    ("queued", "failed"): "refused before dispatch",
    ("sent", "printing"): "the agent started printing",
    ("sent", "queued"): "the agent went away before it started; redeliver",
    ("sent", "printed"): "the agent printed it",
    ("sent", "failed"): "the agent could not print it",
    ("sent", "expired"): "not acknowledged before its deadline",
    ("printing", "printed"): "the printer finished",
    ("printing", "failed"): "the printer failed",
    ("printing", "queued"): "the agent was lost mid-job; redeliver with the same id",
    ("sent", "unconfirmed"): "the printer may or may not have printed it",
    ("printing", "unconfirmed"): "the printer may or may not have printed it",
    ("sent", "sent_to_printer"): "the printer took it but reports no status",
    ("printing", "sent_to_printer"): "the printer took it but reports no status",
}

#: States with no way out.
TERMINAL_STATES: Final[frozenset[JobState]] = frozenset(
    state for state in JOB_STATES if not any(current == state for current, _ in TRANSITIONS)
)

_BY_NAME: Final[Mapping[str, JobState]] = {state: state for state in JOB_STATES}


class IllegalTransition(Exception):
    """A job was asked to move to a state the lifecycle does not allow from where it is."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def job_state(name: str) -> JobState:
    """The JobState named ``name``, or IllegalTransition(unknown_job_state)."""
    state = _BY_NAME.get(name)
    if state is None:
        raise IllegalTransition("unknown_job_state", f"{name!r} is not a job state")
    return state


def is_terminal(state: str) -> bool:
    """True when a job in ``state`` can never change again."""
    return job_state(state) in TERMINAL_STATES


def can_transition(current: str, new: str) -> bool:
    """True when the table allows ``current -> new`` (unknown states are never allowed)."""
    return (current, new) in TRANSITIONS


def transition(current: str, new: str) -> JobState:
    """Return ``new`` when ``current -> new`` is allowed, else raise IllegalTransition."""
    old_state, new_state = job_state(current), job_state(new)
    if (old_state, new_state) in TRANSITIONS:
        return new_state
    if old_state in TERMINAL_STATES:
        raise IllegalTransition(
            "job_already_final", f"the job is already {old_state}; it cannot become {new_state}"
        )
    raise IllegalTransition(
        "illegal_job_transition", f"a job cannot go from {old_state} to {new_state}"
    )


def reason(current: str, new: str) -> str | None:
    """Why ``current -> new`` happens (the table's text), or None when it is not allowed."""
    if (current, new) not in TRANSITIONS:
        return None
    return TRANSITIONS[job_state(current), job_state(new)]
