"""Simulated printers that ship with the agent: a network printer, a fake USB bus, a fleet."""

from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter

__all__ = [
    "FakeUsbBackend",
    "FakeUsbPrinter",
    "PrinterBrain",
    "SimState",
    "SimulatedNetworkPrinter",
]
