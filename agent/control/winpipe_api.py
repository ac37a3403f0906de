"""The one seam to Win32 for the control API's named pipe: pywin32 on Windows, a fake elsewhere.

:class:`PipeApi` lists exactly the Win32 calls :mod:`agent.control.winpipe` makes, each a thin
wrapper of one pywin32 function (or two, where pywin32 needs a conversion: a SID string to a
PySID, SDDL to a security descriptor). :class:`PyWin32Pipes` is the real one, imported only on
Windows (pywin32 is installed there only, by an environment marker);
``agent.simulators.fake_winpipe`` plays the same calls over socket pairs for the Linux tests.
Everything that decides something (flags, timeouts, the DACL, who is let in) lives in
``winpipe``, so the tests exercise it as it runs on Windows.

The constants are winbase.h's and winerror.h's values, defined here because pywin32 does not
export all of them (``PIPE_REJECT_REMOTE_CLIENTS``, ``FILE_FLAG_FIRST_PIPE_INSTANCE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

PIPE_ACCESS_DUPLEX = 0x00000003
FILE_FLAG_OVERLAPPED = 0x40000000
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
PIPE_TYPE_BYTE = 0x0
PIPE_READMODE_BYTE = 0x0
PIPE_WAIT = 0x0
PIPE_REJECT_REMOTE_CLIENTS = 0x00000008

WAIT_OBJECT_0 = 0x0
WAIT_TIMEOUT = 0x102
INFINITE = 0xFFFFFFFF

ERROR_ACCESS_DENIED = 5
ERROR_BROKEN_PIPE = 109
ERROR_PIPE_BUSY = 231
ERROR_NO_DATA = 232
ERROR_PIPE_NOT_CONNECTED = 233
ERROR_MORE_DATA = 234
ERROR_PIPE_CONNECTED = 535
ERROR_OPERATION_ABORTED = 995
ERROR_IO_PENDING = 997
ERROR_NONE_MAPPED = 1332

#: Well-known SIDs: LocalSystem and the local Administrators group.
SYSTEM_SID = "S-1-5-18"
ADMINISTRATORS_SID = "S-1-5-32-544"


def winerror(exc: BaseException) -> int | None:
    """The Win32 error code of a ``pywintypes.error`` (or the fake's), else None."""
    code = getattr(exc, "winerror", None)
    return code if isinstance(code, int) else None


class PipeApi(Protocol):
    """The Win32 calls the pipe server makes. Handles, events and OVERLAPPEDs are opaque."""

    #: The exception every call raises on failure (``pywintypes.error``), with ``winerror``.
    error: type[Exception]

    def lookup_sid(self, account: str) -> str:
        """``LookupAccountName`` + ``ConvertSidToStringSid``: an account's SID as text."""

    def process_user_sid(self) -> str:
        """``OpenProcessToken`` + ``GetTokenInformation(TokenUser)``: who this process runs as."""

    def create_named_pipe(
        self, name: str, open_mode: int, pipe_mode: int, max_instances: int,
        buffer_size: int, sddl: str,
    ) -> Any:  # fmt: skip
        """``ConvertStringSecurityDescriptorToSecurityDescriptor`` + ``CreateNamedPipe``."""

    def create_event(self) -> Any:
        """``CreateEvent``: a manual-reset event, not signalled."""

    def set_event(self, event: Any) -> None:
        """``SetEvent``."""

    def overlapped(self, event: Any) -> Any:
        """``pywintypes.OVERLAPPED()`` whose ``hEvent`` is ``event``."""

    def wait_for_multiple_objects(self, handles: Sequence[Any], timeout_ms: int) -> int:
        """``WaitForMultipleObjects`` (any one): WAIT_OBJECT_0 + index, or WAIT_TIMEOUT."""

    def connect_named_pipe(self, pipe: Any, overlapped: Any) -> int:
        """``ConnectNamedPipe``: 0, ERROR_IO_PENDING or ERROR_PIPE_CONNECTED."""

    def allocate_read_buffer(self, size: int) -> Any:
        """``AllocateReadBuffer``: a buffer an overlapped ReadFile fills."""

    def read_file(self, pipe: Any, buffer: Any, overlapped: Any) -> int:
        """``ReadFile`` (overlapped): 0, ERROR_IO_PENDING or ERROR_MORE_DATA."""

    def write_file(self, pipe: Any, data: bytes, overlapped: Any) -> int:
        """``WriteFile`` (overlapped): 0 or ERROR_IO_PENDING."""

    def get_overlapped_result(self, pipe: Any, overlapped: Any, wait: bool) -> int:
        """``GetOverlappedResult``: the bytes the operation moved (raises its error)."""

    def cancel_io(self, pipe: Any) -> None:
        """``CancelIo``: cancel this thread's pending operations on ``pipe``."""

    def disconnect_named_pipe(self, pipe: Any) -> None:
        """``DisconnectNamedPipe``: end the client's connection, keep the instance."""

    def close_handle(self, handle: Any) -> None:
        """``CloseHandle``."""

    def get_named_pipe_client_process_id(self, pipe: Any) -> int:
        """``GetNamedPipeClientProcessId``."""

    def impersonate_named_pipe_client(self, pipe: Any) -> None:
        """``ImpersonateNamedPipeClient`` (only after something was read from the pipe)."""

    def open_thread_token(self) -> Any:
        """``OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, OpenAsSelf=True)``."""

    def token_user_sid(self, token: Any) -> str:
        """``GetTokenInformation(token, TokenUser)`` as a SID string."""

    def check_token_membership(self, token: Any, sid: str) -> bool:
        """``CheckTokenMembership``: whether ``sid`` is enabled in the (impersonation) token."""

    def revert_to_self(self) -> None:
        """``RevertToSelf``: stop impersonating."""


class PyWin32Pipes:  # pragma: no cover - Windows only (.github/workflows/control-api.yml)
    """:class:`PipeApi` over pywin32."""

    def __init__(self) -> None:
        import pywintypes  # type: ignore[import-not-found,unused-ignore]
        import win32api  # type: ignore[import-not-found,unused-ignore]
        import win32event  # type: ignore[import-not-found,unused-ignore]
        import win32file  # type: ignore[import-not-found,unused-ignore]
        import win32pipe  # type: ignore[import-not-found,unused-ignore]
        import win32security  # type: ignore[import-not-found,unused-ignore]

        self.error = pywintypes.error
        self._types: Any = pywintypes
        self._api: Any = win32api
        self._event: Any = win32event
        self._file: Any = win32file
        self._pipe: Any = win32pipe
        self._sec: Any = win32security

    def lookup_sid(self, account: str) -> str:
        sid, _domain, _kind = self._sec.LookupAccountName(None, account)
        return str(self._sec.ConvertSidToStringSid(sid))

    def process_user_sid(self) -> str:
        sec = self._sec
        token = sec.OpenProcessToken(self._api.GetCurrentProcess(), sec.TOKEN_QUERY)
        try:
            return self.token_user_sid(token)
        finally:
            token.Close()

    def create_named_pipe(
        self, name: str, open_mode: int, pipe_mode: int, max_instances: int,
        buffer_size: int, sddl: str,
    ) -> Any:  # fmt: skip
        sec = self._sec
        descriptor = sec.ConvertStringSecurityDescriptorToSecurityDescriptor(
            sddl, sec.SDDL_REVISION_1
        )
        attributes = self._types.SECURITY_ATTRIBUTES()
        attributes.SECURITY_DESCRIPTOR = descriptor
        attributes.bInheritHandle = False
        return self._pipe.CreateNamedPipe(
            name, open_mode, pipe_mode, max_instances, buffer_size, buffer_size, 0, attributes
        )

    def create_event(self) -> Any:
        return self._event.CreateEvent(None, True, False, None)

    def set_event(self, event: Any) -> None:
        self._event.SetEvent(event)

    def overlapped(self, event: Any) -> Any:
        overlapped = self._types.OVERLAPPED()
        overlapped.hEvent = event
        return overlapped

    def wait_for_multiple_objects(self, handles: Sequence[Any], timeout_ms: int) -> int:
        return int(self._event.WaitForMultipleObjects(list(handles), False, timeout_ms))

    def connect_named_pipe(self, pipe: Any, overlapped: Any) -> int:
        return int(self._pipe.ConnectNamedPipe(pipe, overlapped))

    def allocate_read_buffer(self, size: int) -> Any:
        return self._file.AllocateReadBuffer(size)

    def read_file(self, pipe: Any, buffer: Any, overlapped: Any) -> int:
        hr, _ = self._file.ReadFile(pipe, buffer, overlapped)
        return int(hr)

    def write_file(self, pipe: Any, data: bytes, overlapped: Any) -> int:
        hr, _ = self._file.WriteFile(pipe, data, overlapped)
        return int(hr)

    def get_overlapped_result(self, pipe: Any, overlapped: Any, wait: bool) -> int:
        return int(self._file.GetOverlappedResult(pipe, overlapped, wait))

    def cancel_io(self, pipe: Any) -> None:
        self._file.CancelIo(pipe)

    def disconnect_named_pipe(self, pipe: Any) -> None:
        self._pipe.DisconnectNamedPipe(pipe)

    def close_handle(self, handle: Any) -> None:
        handle.Close()

    def get_named_pipe_client_process_id(self, pipe: Any) -> int:
        return int(self._pipe.GetNamedPipeClientProcessId(pipe))

    def impersonate_named_pipe_client(self, pipe: Any) -> None:
        self._sec.ImpersonateNamedPipeClient(pipe)

    def open_thread_token(self) -> Any:
        sec = self._sec
        return sec.OpenThreadToken(self._api.GetCurrentThread(), sec.TOKEN_QUERY, True)

    def token_user_sid(self, token: Any) -> str:
        sid, _attributes = self._sec.GetTokenInformation(token, self._sec.TokenUser)
        return str(self._sec.ConvertSidToStringSid(sid))

    def check_token_membership(self, token: Any, sid: str) -> bool:
        return bool(self._sec.CheckTokenMembership(token, self._sec.ConvertStringSidToSid(sid)))

    def revert_to_self(self) -> None:
        self._sec.RevertToSelf()
