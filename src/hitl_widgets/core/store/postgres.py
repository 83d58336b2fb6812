"""The team store: the same append-only tables on PostgreSQL, through SQLAlchemy.

Three choices, each for a reason:
- Appends take a transaction-scoped advisory lock, so events commit in the order of
  their `position`. A reader that syncs "everything after position p" then never
  misses an event that got a smaller position but committed later.
- Claims lock one row per item with FOR UPDATE SKIP LOCKED: two annotators claiming
  at once never wait on each other and never count the same open slot twice.
- A commit returns only once PostgreSQL has flushed it (synchronous_commit is on by
  default); the store checks that setting and refuses to run with it off.

Every failure of the server or the driver leaves as a StoreError that names the server
(password hidden) and the cause.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from ..events import LabelEvent
from .base import (
    BIND_SQL,
    CLAIM_SQL,
    EVENTS_SINCE_SQL,
    EVENTS_TABLE,
    GET_EVENT_SQL,
    INSERT_EVENT_SQL,
    META_SQL,
    StoreError,
    binding_rows,
    check_binding,
    check_ids,
    create_statements,
    event_from_row,
    event_params,
    prepare_schema,
    slot_open,
)

ITEMS_TABLE = "hitl_items"
APPEND_LOCK = 7_214_305_001  # advisory lock key that serialises appends
SCHEMA_LOCK = 7_214_305_002  # ... and the one that serialises creating and migrating
PG_TYPES = {"REAL": "DOUBLE PRECISION", "INTEGER": "BIGINT"}
COLUMNS_SQL = (
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = :table"
)


def _pg_type(kind: str) -> str:
    """REAL is single precision on PostgreSQL: store doubles, as SQLite does."""
    head, *rest = kind.split(" ", 1)
    return " ".join([PG_TYPES.get(head, head), *rest])


def _rows(result: Any) -> list[Any]:
    return list(result.all()) if result.returns_rows else []


def _cause(exc: SQLAlchemyError) -> str:
    """The driver's own message on one line, without SQLAlchemy's statement and links."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


class PostgresStore:
    """Label events in a PostgreSQL database given by an SQLAlchemy URL."""

    durable = True

    def __init__(self, url: str):
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError) as exc:  # a bad port is a ValueError
            # not chained, and the URL not shown: it may hold a password
            raise StoreError(f"cannot parse the PostgreSQL store URL: {exc}") from None
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.location = parsed.render_as_string(hide_password=True)
        self._engine = create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
        try:
            self._open()
        except BaseException:
            self._engine.dispose()
            raise

    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """Turn a driver or server failure into a StoreError naming the server and cause."""
        try:
            yield
        except SQLAlchemyError as exc:
            raise StoreError(f"{self.location}: could not {doing}: {_cause(exc)}") from exc

    @contextmanager
    def _begin(self, doing: str) -> Iterator[Connection]:
        with self._failing(doing), self._engine.begin() as conn:
            yield conn

    def _read(self, sql: str, params: dict[str, Any], doing: str) -> list[Any]:
        with self._failing(doing), self._engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())

    def _open(self) -> None:
        """Check the server keeps commits, then create or migrate the tables."""
        with self._begin("open the store") as conn:
            setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            if str(setting).lower() in ("off", "local"):
                raise StoreError(f"{self.location}: synchronous_commit={setting} can lose labels")
            # concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: serialise
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            prepare_schema(
                run=lambda sql: _rows(conn.exec_driver_sql(sql)),
                columns=lambda table: {
                    row[0] for row in conn.execute(text(COLUMNS_SQL), {"table": table})
                },
                create=[
                    *create_statements(_pg_type, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
                    f"CREATE TABLE IF NOT EXISTS {ITEMS_TABLE} (item_id TEXT PRIMARY KEY)",
                ],
                column_type=_pg_type,
                where=self.location,
            )

    def bind(self, fingerprint: str, classes: Sequence[str], n_items: int) -> None:
        """Tie the store to one pool and label set, or check that it already is."""
        with self._begin("bind the store") as conn:
            conn.execute(text(BIND_SQL), binding_rows(fingerprint, classes, n_items))
            meta: dict[str, str] = dict(conn.execute(text(META_SQL)).all())
        check_binding(meta, fingerprint, classes, n_items, self.location)

    def append(self, events: Sequence[LabelEvent]) -> int:
        """Insert events durably; returns how many were new (the rest were already stored)."""
        if not events:
            return 0
        rows = event_params(events, self.location)
        with self._begin("save the label") as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
            return sum(conn.execute(text(INSERT_EVENT_SQL), row).rowcount for row in rows)

    def get_event(self, event_id: str) -> LabelEvent | None:
        rows = self._read(GET_EVENT_SQL, {"id": event_id}, "read an event")
        return event_from_row(tuple(rows[0])) if rows else None

    def read_events(self) -> list[LabelEvent]:
        return [event for _, event in self.read_since(0)]

    def read_since(self, position: int) -> list[tuple[int, LabelEvent]]:
        """Events committed after `position`, with their positions (for syncing)."""
        rows = self._read(EVENTS_SINCE_SQL, {"p": position}, "read the events")
        return [(int(row[0]), event_from_row(tuple(row[1:]))) for row in rows]

    def claim(
        self, annotator: str, candidates: Sequence[str], n: int, overlap: int, ttl: float
    ) -> list[str]:
        """Reserve up to n candidates for `annotator`; rows locked by others are skipped."""
        if not candidates or n <= 0:
            return []
        ids = list(candidates)
        check_ids([annotator, *ids], self.location)
        with self._begin("claim items") as conn:
            conn.execute(
                text(
                    f"INSERT INTO {ITEMS_TABLE} (item_id) SELECT unnest(CAST(:ids AS TEXT[])) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"ids": ids},
            )
        with self._begin("claim items") as conn:
            return self._reserve(conn, ids, annotator, n, overlap, ttl)

    @staticmethod
    def _reserve(
        conn: Connection, ids: list[str], annotator: str, n: int, overlap: int, ttl: float
    ) -> list[str]:
        locked = {
            row[0]
            for row in conn.execute(
                text(
                    f"SELECT item_id FROM {ITEMS_TABLE} WHERE item_id = ANY(:ids) "
                    "FOR UPDATE SKIP LOCKED"
                ),
                {"ids": ids},
            )
        }

        def query(sql: str, params: dict[str, Any]) -> Any:
            return conn.execute(text(sql), params)

        won: list[str] = []
        now = time.time()
        for item in ids:
            if len(won) >= n:
                break
            if item in locked and slot_open(query, item, annotator, overlap, now):
                conn.execute(text(CLAIM_SQL), {"item": item, "who": annotator, "until": now + ttl})
                won.append(item)
        return won

    def integrity_check(self) -> str:
        """Duplicate event ids or positions would mean a broken table; 'ok' otherwise."""
        sql = f"SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM {EVENTS_TABLE}"
        dupes = self._read(sql, {}, "check the store")[0][0]
        return "ok" if dupes == 0 else f"{dupes} duplicated event ids"

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"
