"""The hub's composition root object: what gateways, routes and services share."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import socketio
from aiohttp import web

from hub.cluster import Cluster
from hub.keyring import Keyring
from hub.services.actions import ActionService
from hub.services.admission import AdmissionGate
from hub.services.connections import ConnectionRegistry
from hub.services.jobs import JobService
from hub.services.monitoring import Monitor
from hub.services.printing import PrintingService
from hub.services.publisher import Publisher
from hub.services.ratelimit import FailureLimiter
from hub.services.stations import StationService
from hub.services.streams import StreamService
from hub.services.tenancy import BranchDirectory
from hub.services.ticket_reports import TicketReports
from hub.services.tickets import TicketService
from hub.services.updates import UpdateService
from hub.settings import Settings
from hub.store import Database
from shared.tokens import TokenKeys


@dataclass
class HubContext:
    """Everything one hub instance holds, built once by :func:`hub.app.build_context`."""

    settings: Settings
    keys: TokenKeys
    sio: socketio.AsyncServer
    directory: BranchDirectory
    connections: ConnectionRegistry
    publisher: Publisher
    observer: Monitor
    printing: PrintingService
    db: Database
    jobs: JobService
    #: The platform's JWKS keys (inert without jwks_url); holds the jwks inside ``keys``.
    keyring: Keyring
    #: Cash drawer and buzzer requests.
    actions: ActionService
    #: Kitchen tickets: orders to tickets, stations and rules, the log and its figures.
    tickets: TicketService
    stations: StationService
    ticket_reports: TicketReports
    cluster: Cluster | None = None
    #: Agent updates: rings, promotions, the TUF repository of builds (hub.services.updates).
    updates: UpdateService | None = None
    #: Company event streams (offsets, replay, the outbox); built by hub.services.stream_setup.
    streams: StreamService | None = None
    started_at: float = field(default_factory=time.time)
    #: Connects being admitted at once (backpressure: ``busy`` beyond the limit).
    admission: AdmissionGate = field(default_factory=AdmissionGate)
    #: Failed logins per username and address: 10 in 5 minutes.
    login_failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(10, 300.0))
    #: Failed pairing-code redemptions per address: 5 a minute.
    redeem_failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(5, 60.0))

    @property
    def instance_id(self) -> str:
        """This instance's id (in every log line and health answer)."""
        return self.settings.instance_id


CTX_KEY = web.AppKey("ctx", HubContext)


def ctx_of(request: web.Request) -> HubContext:
    """The hub context of the app serving a request."""
    return request.app[CTX_KEY]
