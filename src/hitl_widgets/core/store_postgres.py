"""The team store: the same append-only tables on PostgreSQL, through SQLAlchemy.

Three choices, each for a reason:
- Appends take a transaction-scoped advisory lock, so events commit in the order of
  their `position`. A reader that syncs "everything after position p" then never
  misses an event that got a smaller position but committed later.
- Claims lock one row per item with FOR UPDATE SKIP LOCKED: two annotators claiming
  at once never wait on each other and never count the same open slot twice.
- A commit returns only once PostgreSQL has flushed it (synchronous_commit is on by
  default); the store checks that setting and refuses to run with it off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .events import EVENT_COLUMNS, SCHEMA_VERSION, LabelEvent
from .store import (
    CLAIMS_TABLE,
    EVENT_COLUMN_TYPES,
    EVENTS_TABLE,
    META_TABLE,
    StoreError,
    check_binding,
    event_from_row,
)

ITEMS_TABLE = "hitl_items"
APPEND_LOCK = 7_214_305_001  # advisory lock key that serialises appends
SCHEMA_LOCK = 7_214_305_002
PG_TYPES = {"REAL": "DOUBLE PRECISION", "INTEGER": "BIGINT"}
BOOL_COLUMNS = ("suggestion_shown", "audit")


def is_postgres_url(spec: str) -> bool:
    return spec.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres")


class PostgresStore:
    """Label events in a PostgreSQL database given by an SQLAlchemy URL."""

    durable = True

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.location = parsed.render_as_string(hide_password=True)
        self._engine = create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
        with self._engine.connect() as conn:
            setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        if str(setting).lower() in ("off", "local"):
            raise StoreError(f"{self.location}: synchronous_commit={setting} can lose labels")
        self._create_schema()

    def _create_schema(self) -> None:
        columns = ",\n  ".join(
            f"{name} {_pg_type(kind)}" for name, kind in EVENT_COLUMN_TYPES.items()
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (\n"
            f"  position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  {columns}\n)",
            f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_item ON {EVENTS_TABLE} (item_id)",
            f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_target ON {EVENTS_TABLE} (target_event_id)",
            f"CREATE TABLE IF NOT EXISTS {ITEMS_TABLE} (item_id TEXT PRIMARY KEY)",
            f"CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (item_id TEXT NOT NULL, "
            "annotator TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL, "
            "PRIMARY KEY (item_id, annotator))",
        ]
        with self._begin() as conn:
            # concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: serialise
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            for statement in statements:
                conn.exec_driver_sql(statement)

    def _begin(self) -> Any:
        try:
            return self._engine.begin()
        except Exception as exc:  # connection refused and the like
            raise StoreError(f"{self.location}: {exc}") from exc

    def bind(self, fingerprint: str, classes: Sequence[str], n_items: int) -> None:
        from sqlalchemy import text

        rows = {
            "schema_version": str(SCHEMA_VERSION),
            "pool_fingerprint": fingerprint,
            "classes": json.dumps(list(classes)),
            "n_items": str(n_items),
        }
        with self._begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {META_TABLE} (key, value) VALUES (:key, :value) "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                [{"key": k, "value": v} for k, v in rows.items()],
            )
            meta = dict(conn.exec_driver_sql(f"SELECT key, value FROM {META_TABLE}").all())
        check_binding(meta, fingerprint, classes, n_items, self.location)

    def append(self, events: Sequence[LabelEvent]) -> int:
        """Insert events durably; returns how many were new (the rest were already stored)."""
        from sqlalchemy import text

        if not events:
            return 0
        names = ", ".join(EVENT_COLUMNS)
        params = ", ".join(f":{c}" for c in EVENT_COLUMNS)
        sql = text(
            f"INSERT INTO {EVENTS_TABLE} ({names}) VALUES ({params}) "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        try:
            with self._begin() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})")
                inserted = 0
                for event in events:
                    inserted += conn.execute(sql, _params(event)).rowcount
            return inserted
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"{self.location}: {exc}") from exc

    def get_event(self, event_id: str) -> LabelEvent | None:
        from sqlalchemy import text

        names = ", ".join(EVENT_COLUMNS)
        with self._engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {names} FROM {EVENTS_TABLE} WHERE event_id = :id"), {"id": event_id}
            ).first()
        return None if row is None else event_from_row(tuple(row))

    def read_events(self) -> list[LabelEvent]:
        return [event for _, event in self.read_since(0)]

    def read_since(self, position: int) -> list[tuple[int, LabelEvent]]:
        from sqlalchemy import text

        names = ", ".join(EVENT_COLUMNS)
        with self._engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT position, {names} FROM {EVENTS_TABLE} WHERE position > :p "
                    "ORDER BY position"
                ),
                {"p": position},
            ).all()
        return [(int(row[0]), event_from_row(tuple(row[1:]))) for row in rows]

    def claim(
        self, annotator: str, candidates: Sequence[str], n: int, overlap: int, ttl: float
    ) -> list[str]:
        """Reserve up to n candidates for `annotator`; rows locked by others are skipped."""
        from sqlalchemy import text

        if not candidates or n <= 0:
            return []
        ids = list(candidates)
        with self._begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO {ITEMS_TABLE} (item_id) SELECT unnest(CAST(:ids AS TEXT[])) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"ids": ids},
            )
        won: list[str] = []
        with self._begin() as conn:
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
            now = time.time()
            for item in ids:
                if len(won) >= n:
                    break
                if item in locked and self._open(conn, item, annotator, overlap, now):
                    conn.execute(
                        text(
                            f"INSERT INTO {CLAIMS_TABLE} (item_id, annotator, expires_at) "
                            "VALUES (:item, :who, :until) ON CONFLICT (item_id, annotator) "
                            "DO UPDATE SET expires_at = excluded.expires_at"
                        ),
                        {"item": item, "who": annotator, "until": now + ttl},
                    )
                    won.append(item)
        return won

    @staticmethod
    def _open(conn: Any, item: str, annotator: str, overlap: int, now: float) -> bool:
        from sqlalchemy import text

        opinions = {
            row[0]
            for row in conn.execute(
                text(
                    f"SELECT DISTINCT e.annotator FROM {EVENTS_TABLE} e WHERE e.item_id = :item "
                    "AND e.action = 'label' AND NOT EXISTS (SELECT 1 FROM "
                    f"{EVENTS_TABLE} u WHERE u.action = 'undo' "
                    "AND u.target_event_id = e.event_id)"
                ),
                {"item": item},
            )
        }
        if annotator in opinions:
            return False
        claimers = {
            row[0]
            for row in conn.execute(
                text(
                    f"SELECT annotator FROM {CLAIMS_TABLE} WHERE item_id = :item "
                    "AND annotator != :who AND expires_at > :now"
                ),
                {"item": item, "who": annotator, "now": now},
            )
        }
        return len(opinions) + len(claimers - opinions) < overlap

    def integrity_check(self) -> str:
        """Duplicate event ids or positions would mean a broken table; 'ok' otherwise."""
        with self._engine.connect() as conn:
            dupes = conn.exec_driver_sql(
                f"SELECT COUNT(*) - COUNT(DISTINCT event_id) FROM {EVENTS_TABLE}"
            ).scalar()
        return "ok" if dupes == 0 else f"{dupes} duplicated event ids"

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"


def _pg_type(kind: str) -> str:
    head, *rest = kind.split(" ", 1)
    return " ".join([PG_TYPES.get(head, head), *rest])


def _params(event: LabelEvent) -> dict[str, Any]:
    row = event.as_row()
    for column in BOOL_COLUMNS:
        if row[column] is not None:
            row[column] = int(row[column])
    return row
