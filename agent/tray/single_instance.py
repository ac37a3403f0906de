"""One tray agent per user: the first launch listens on a local socket, later ones knock.

QLocalServer is a Unix socket on Linux/macOS and a named pipe on Windows, so one code path
serves every OS. The name is per user (and per config dir, so test runs never collide). A
second launch connects, says "show", and exits; the first brings itself forward. A socket
left by a crashed instance answers nothing, so it is removed and the new launch takes over.
"""

from __future__ import annotations

import getpass
import hashlib

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from agent.settings import config_dir

#: Milliseconds to wait on the local socket (it is on this machine: a slow answer is none).
TIMEOUT_MS = 1000
MESSAGE = b"show\n"


def instance_name() -> str:
    """The local socket name for this user and config directory."""
    key = f"{getpass.getuser()}:{config_dir()}".encode()
    return f"chit-agent-{hashlib.sha256(key).hexdigest()[:16]}"


class SingleInstance(QObject):
    """Claim the per-user slot, or hand over to the instance that has it."""

    activated = Signal()

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or instance_name()
        self._server: QLocalServer | None = None
        self._peers: list[QLocalSocket] = []

    def claim(self) -> bool:
        """True when this process is the one instance; False after knocking on the first."""
        if self._knock():
            return False
        QLocalServer.removeServer(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def release(self) -> None:
        """Stop listening (on quit)."""
        for peer in self._peers:
            peer.abort()
        self._peers.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    def _knock(self) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(TIMEOUT_MS):
            return False
        socket.write(MESSAGE)
        socket.waitForBytesWritten(TIMEOUT_MS)
        socket.disconnectFromServer()
        return True

    def _accept(self) -> None:
        assert self._server is not None
        while (peer := self._server.nextPendingConnection()) is not None:
            self._peers.append(peer)
            peer.readyRead.connect(self._read)
            if peer.bytesAvailable():
                self._check(peer)

    def _read(self) -> None:
        peer = self.sender()
        if isinstance(peer, QLocalSocket):
            self._check(peer)

    def _check(self, peer: QLocalSocket) -> None:
        if bytes(peer.readAll().data()).startswith(MESSAGE.strip()):
            peer.abort()
            if peer in self._peers:
                self._peers.remove(peer)
            peer.deleteLater()
            self.activated.emit()
