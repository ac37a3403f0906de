"""Chit's wire contract: namespaces, events and payloads, rooms, tokens, ESC/POS bytes.

Pure data and pure functions. Nothing in this package performs I/O or imports asyncio,
socket, socketio, Qt or usb; ``tests/shared/test_sans_io.py`` keeps it so.
"""

#: Bumped when the event catalog changes shape (2: kitchen fields on the order events).
PROTOCOL_VERSION = 2
