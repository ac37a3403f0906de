"""Cluster mode: several hub instances behind one Redis that behave as one hub.

``manager`` is python-socketio's Redis client manager with what production needs on top
(a message size cap, local delivery when Redis is down, fast resubscription, a self-ping
that detects a deaf instance, and a small bus for hub-internal messages). ``presence``
keeps the cluster-wide state python-socketio cannot: which instance holds which agent,
each instance's connection counts, the raised alerts and the alert leader's lease.
``reconnects`` is the cluster-wide reconnect log behind the reconnect-rate alert.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.cluster.manager import ChitRedisManager
from hub.cluster.presence import ClusterState


@dataclass(frozen=True)
class Cluster:
    """What services need in cluster mode: the shared state and the internal bus."""

    state: ClusterState
    bus: ChitRedisManager


__all__ = ["ChitRedisManager", "Cluster", "ClusterState"]
