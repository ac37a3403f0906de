"""The Chit hub: Socket.IO namespaces, REST API and web UI for a restaurant platform."""

__version__ = "0.1.0"
