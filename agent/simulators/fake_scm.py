"""A fake Windows service control manager, for agent.winservice off Windows.

It keeps registered services in a dict and plays the SCM's rules that the installer meets:
creating a service that exists fails (ERROR_SERVICE_EXISTS), deleting or starting one that
does not fails (ERROR_SERVICE_DOES_NOT_EXIST), starting a running one fails
(ERROR_SERVICE_ALREADY_RUNNING), and a service is deleted only once it is stopped (the real
SCM marks a running one for deletion). :class:`RecordingSink` records what a running service
reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.winservice import ServiceSpec, State

ERROR_SERVICE_EXISTS = 1073
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_MARKED_FOR_DELETE = 1072


class ScmError(OSError):
    """An SCM call failed, with its Win32 error code."""

    def __init__(self, winerror: int, message: str) -> None:
        super().__init__(message)
        self.winerror = winerror


@dataclass
class FakeService:
    """One registered service."""

    spec: ServiceSpec
    state: str = "stopped"


@dataclass
class FakeServiceManager:
    """The SCM's services, and every call made to it in order."""

    services: dict[str, FakeService] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def _get(self, name: str) -> FakeService:
        if name not in self.services:
            raise ScmError(ERROR_SERVICE_DOES_NOT_EXIST, f"no service {name}")
        return self.services[name]

    def exists(self, name: str) -> bool:
        return name in self.services

    def state(self, name: str) -> str:
        return self._get(name).state

    def create(self, spec: ServiceSpec) -> None:
        self.calls.append(f"create {spec.name}")
        if spec.name in self.services:
            raise ScmError(ERROR_SERVICE_EXISTS, f"service {spec.name} exists")
        self.services[spec.name] = FakeService(spec)

    def delete(self, name: str) -> None:
        self.calls.append(f"delete {name}")
        if self._get(name).state != "stopped":
            raise ScmError(ERROR_SERVICE_MARKED_FOR_DELETE, f"{name} is running")
        del self.services[name]

    def start(self, name: str) -> None:
        self.calls.append(f"start {name}")
        service = self._get(name)
        if service.state == "running":
            raise ScmError(ERROR_SERVICE_ALREADY_RUNNING, f"{name} is running")
        service.state = "running"

    def stop(self, name: str, timeout: float) -> None:
        self.calls.append(f"stop {name}")
        self._get(name).state = "stopped"


@dataclass
class RecordingSink:
    """A StatusSink that keeps the states reported and the event log's lines."""

    states: list[State] = field(default_factory=list)
    events: list[tuple[int, str]] = field(default_factory=list)

    def report(self, state: State) -> None:
        self.states.append(state)

    def event(self, level: int, message: str) -> None:
        self.events.append((level, message))
