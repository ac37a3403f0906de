"""/availability: web clients receive availability and stock events for their tenant."""

from __future__ import annotations

from hub.gateways.base import Gateway
from shared.namespaces import Namespace


class AvailabilityGateway(Gateway):
    """Product availability, stock alerts, inventory alerts (published by the platform)."""

    namespace_id = Namespace.AVAILABILITY
