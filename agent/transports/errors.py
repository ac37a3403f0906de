"""The transport errors: every OS, socket and libusb failure is translated into one of these,
once, at the transport boundary. Each carries a machine ``code`` and a human ``message`` that
says what to do, so the coordinator can forward it to the hub as is."""

from __future__ import annotations

import sys

from shared.wire import ErrorInfo


class TransportError(Exception):
    """A printer link failed; ``code`` is stable and machine-readable."""

    code: str = "transport_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_error_info(self) -> ErrorInfo:
        """The ``{code, message}`` payload sent on the wire."""
        return ErrorInfo(code=self.code, message=self.message[:2000])


class TransportTimeout(TransportError):
    """A connect or write did not complete in time (reads return ``b""`` instead)."""

    code = "timeout"


class TransportClosed(TransportError):
    """The peer closed the link, or the transport was closed locally."""

    code = "connection_closed"


class PrinterNotFound(TransportError):
    """No printer at that address: refused, unreachable, or the USB device is gone."""

    code = "printer_not_found"


class AccessDenied(TransportError):
    """The OS refused access to the USB device."""

    code = "access_denied"


class DeviceBusy(TransportError):
    """Another driver or program holds the USB printer."""

    code = "device_busy"


def access_denied_message(vendor_id: int | None, platform: str = sys.platform) -> str:
    """What to do when the OS refuses access to a USB printer, for this platform."""
    vid = f"{vendor_id:04x}" if vendor_id is not None else "XXXX"
    if platform.startswith("linux"):
        return (
            "Permission denied opening the USB printer. Add a udev rule, e.g. in "
            "/etc/udev/rules.d/60-chit-printer.rules: "
            f'SUBSYSTEM=="usb", ATTRS{{idVendor}}=="{vid}", MODE="0660", GROUP="lp"; '
            'then run "sudo udevadm control --reload && sudo udevadm trigger", '
            'add this user to the group lp ("sudo usermod -aG lp $USER") and log in again.'
        )
    if platform == "win32":
        return (
            "Windows' printer driver holds this USB printer (vendor id "
            f"{vid}): keep the driver and print through its Windows printer (the agent lists "
            "it as a print queue), or connect the printer over the network."
        )
    return (
        f"Access denied opening the USB printer (vendor id {vid}): "
        "run the agent as a user allowed to use USB devices."
    )


def device_busy_message() -> str:
    """What to do when the USB printer is held by someone else."""
    return (
        "The USB printer is busy: another program (CUPS, a vendor driver, another Chit agent) "
        "is holding it. If it has a print queue, print through the queue (the agent lists it; "
        "chit-agent config --path PRINTER_ID=queue), or close that program and try again."
    )


#: How to install libusb per Linux family (os-release ID or ID_LIKE), most common first.
_LIBUSB_PACKAGES: tuple[tuple[str, str], ...] = (
    ("debian", "sudo apt install libusb-1.0-0"),
    ("ubuntu", "sudo apt install libusb-1.0-0"),
    ("fedora", "sudo dnf install libusb1"),
    ("rhel", "sudo dnf install libusb1"),
    ("suse", "sudo zypper install libusb-1_0-0"),
    ("arch", "sudo pacman -S libusb"),
    ("alpine", "sudo apk add libusb"),
)


def os_release(path: str = "/etc/os-release") -> dict[str, str]:
    """The KEY=value pairs of os-release (empty when there is none)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return {}
    pairs = (line.split("=", 1) for line in lines if "=" in line)
    return {key.strip(): value.strip().strip("\"'") for key, value in pairs}


def libusb_missing_message(
    platform: str = sys.platform, release: dict[str, str] | None = None
) -> str:
    """USB needs libusb, which is missing: what to install on this system."""
    lead = "USB printers need libusb, which is not installed."
    if platform == "darwin":
        return f"{lead} Install it with: brew install libusb"
    if platform == "win32":
        return (
            f"{lead} Download it from https://libusb.info and copy libusb-1.0.dll (x64) next to "
            "chit-agent.exe, or print to the printer over the network."
        )
    if platform.startswith("linux"):
        info = os_release() if release is None else release
        families = [info.get("ID", ""), *info.get("ID_LIKE", "").split()]
        for family, command in _LIBUSB_PACKAGES:
            if family in families:
                return f"{lead} Install it with: {command}"
        return f"{lead} Install your distribution's libusb-1.0 package."
    return f"{lead} Install libusb-1.0 for this system."
