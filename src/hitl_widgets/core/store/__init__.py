"""Durable, append-only storage of label events: SQLite embedded, PostgreSQL for teams.

`base` holds what both share (the protocol, the errors, the schema and its migrations),
`sqlite` the embedded store and `open_store`, `postgres` the team store, imported only
when a PostgreSQL URL is opened, so SQLAlchemy is never imported otherwise.
"""

from __future__ import annotations

from typing import Any

from .base import (
    CLAIMS_TABLE,
    EVENT_COLUMN_TYPES,
    EVENTS_TABLE,
    META_TABLE,
    MIGRATIONS,
    SCHEMA_VERSION,
    LabelStore,
    StoreCorruptError,
    StoreError,
    StoreMismatchError,
    StoreVanishedError,
    check_binding,
    event_from_row,
    events_frame,
    migrate,
)
from .sqlite import SQLiteStore, default_store_path, open_store

__all__ = [
    "CLAIMS_TABLE",
    "EVENTS_TABLE",
    "EVENT_COLUMN_TYPES",
    "META_TABLE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "LabelStore",
    "SQLiteStore",
    "StoreCorruptError",
    "StoreError",
    "StoreMismatchError",
    "StoreVanishedError",
    "check_binding",
    "default_store_path",
    "event_from_row",
    "events_frame",
    "migrate",
    "open_store",
]


def __getattr__(name: str) -> Any:
    """PostgresStore on first use: importing it imports SQLAlchemy (so it is not in __all__)."""
    if name == "PostgresStore":
        from .postgres import PostgresStore

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
