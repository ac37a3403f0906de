"""The managers' web UI: a static single-page app the hub serves at ``/``."""
