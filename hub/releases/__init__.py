"""Agent releases: the hub's TUF repository of signed agent builds (see repository.py)."""
