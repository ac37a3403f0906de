"""Cash drawer and buzzer requests on the agent: once per correlation id, answered with a result.

A request names a printer; its coordinator reads the status and sends the command for what the
printer reports (agent.coordinator.PrinterCoordinator.command, shared.escpos.drawer): ESC/POS
or Star commands by the printer's status channel, the real-time form when it is not ready.
Paper out and cover open do not refuse it; a printer that does not answer does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Literal

from agent.command_sets import drawer_commands
from agent.coordinator import PrinterCoordinator, PrintFailed, elapsed_ms
from agent.ledger import ResultLedger
from shared.escpos.drawer import CommandSet, buzzer_command, drawer_command, has_buzzer
from shared.events import PrinterActionResult, PrinterBuzzRequest, PrinterDrawerRequest
from shared.printers import PrinterStatus
from shared.wire import ErrorInfo

log = logging.getLogger("chit.agent.actions")

ActionRequest = PrinterDrawerRequest | PrinterBuzzRequest
Finder = Callable[[str], PrinterCoordinator | None]
Sender = Callable[[PrinterActionResult], Awaitable[None]]


def action_of(request: ActionRequest) -> Literal["drawer", "buzz"]:
    """ "drawer" or "buzz"."""
    return "drawer" if isinstance(request, PrinterDrawerRequest) else "buzz"


class ActionRunner:
    """Runs drawer and buzzer requests; a correlation id acts once, its result is kept."""

    def __init__(self, find: Finder, agent_id: Callable[[], str]) -> None:
        self._find = find
        self._agent_id = agent_id
        self.results: ResultLedger[PrinterActionResult] = ResultLedger()

    async def run(self, request: ActionRequest) -> PrinterActionResult:
        """The result of a request (the first one's, for a repeated correlation id)."""
        return await self.results.once(request.correlation_id, lambda: self._run(request))

    async def _run(self, request: ActionRequest) -> PrinterActionResult:
        started = time.monotonic()
        coordinator = self._find(request.printer_id)
        if coordinator is None:
            message = f"this agent has no printer {request.printer_id}"
            return self._result(
                request, started, error=ErrorInfo(code="unknown_printer", message=message)
            )
        commands = drawer_commands(coordinator.info)
        if isinstance(request, PrinterBuzzRequest):
            info = coordinator.info
            if not has_buzzer(commands, info.model, info.profile):
                message = f"{info.name} has no buzzer command (model {info.model or 'unknown'})"
                return self._result(
                    request, started, error=ErrorInfo(code="no_buzzer", message=message)
                )
        try:
            # The command set is read after the status: a first contact detects the channel.
            status = await coordinator.command(
                lambda status: _bytes(request, drawer_commands(coordinator.info), status)
            )
        except PrintFailed as exc:
            return self._result(request, started, exc.status, exc.error)
        log.info(
            "printer action done",
            extra={"correlation_id": request.correlation_id, "printer_id": request.printer_id},
        )
        return self._result(request, started, status)

    def _result(
        self,
        request: ActionRequest,
        started: float,
        status: PrinterStatus | None = None,
        error: ErrorInfo | None = None,
    ) -> PrinterActionResult:
        return PrinterActionResult(
            correlation_id=request.correlation_id,
            printer_id=request.printer_id,
            action=action_of(request),
            agent_id=self._agent_id(),
            success=error is None,
            status=status,
            error=error,
            requested_by=request.requested_by,
            duration_ms=elapsed_ms(started),
            completed_at=datetime.now(UTC),
        )


def _bytes(request: ActionRequest, commands: CommandSet, status: PrinterStatus) -> bytes:
    """The command for this request, in its real-time form when the printer is not ready."""
    if isinstance(request, PrinterDrawerRequest):
        return drawer_command(
            commands, request.pin, request.on_ms, request.off_ms, ready=status.ready
        )
    return buzzer_command(commands, request.times, request.duration_ms)
