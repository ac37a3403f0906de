"""Signed, staged self-updates: the install layout, the TUF client, the updater, the supervisor.

See docs/deployment.md "Updates" for the layout IT sees and docs/operations.md for rings.
"""
