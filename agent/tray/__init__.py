"""The tray app: a PySide6 shell over the headless agent core.

Only the modules that say so import Qt (app, bridge, dialogs, icons, menu, single_instance);
``snapshot``, ``incidents`` and ``core`` are plain Python, tested without a display.
"""
