"""/orders: web clients receive order events for their tenant; they send none."""

from __future__ import annotations

from hub.gateways.base import Gateway
from shared.namespaces import Namespace


class OrdersGateway(Gateway):
    """Order updates, status changes, delivery tracking (published by the platform)."""

    namespace_id = Namespace.ORDERS
