"""ESC/POS byte-level logic without I/O: the status queries a printer answers and their meaning."""

from shared.escpos.status import (
    ALL_STATUS_QUERIES,
    STATUS_QUERY_KINDS,
    StatusKind,
    is_status_byte,
    parse_status,
    status_byte,
    status_queries,
    status_query,
)

__all__ = [
    "ALL_STATUS_QUERIES",
    "STATUS_QUERY_KINDS",
    "StatusKind",
    "is_status_byte",
    "parse_status",
    "status_byte",
    "status_queries",
    "status_query",
]
