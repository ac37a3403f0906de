"""The Chit printer agent: finds ESC/POS printers and drives them for the hub."""

__version__ = "0.1.0"
