"""Durable, append-only storage of label events.

The embedded store is SQLite in WAL mode with `synchronous=FULL` on every connection:
measured on these machines, NORMAL lost acknowledged labels under simulated power
loss and FULL lost none, for about one fsync per label. Writes run in `BEGIN IMMEDIATE`
with a busy timeout and a bounded retry, and inserts are idempotent on the client-made
event id, so a retried submission is never counted twice.

The SQL is kept to what PostgreSQL accepts as well (ON CONFLICT DO NOTHING, TEXT,
REAL, INTEGER), so the team store uses the same table unchanged.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from .events import EVENT_COLUMNS, SCHEMA_VERSION, LabelEvent

EVENTS_TABLE = "hitl_events"
META_TABLE = "hitl_meta"
CLAIMS_TABLE = "hitl_claims"

EVENT_COLUMN_TYPES: dict[str, str] = {
    "event_id": "TEXT NOT NULL UNIQUE",
    "item_id": "TEXT NOT NULL",
    "item_hash": "TEXT NOT NULL",
    "annotator": "TEXT NOT NULL",
    "session_id": "TEXT NOT NULL",
    "seq": "INTEGER NOT NULL",
    "created_at": "TEXT NOT NULL",
    "action": "TEXT NOT NULL CHECK (action IN ('label', 'skip', 'undo', 'resolve'))",
    "label": "TEXT",
    "target_event_id": "TEXT",
    "suggestion": "TEXT",
    "suggestion_shown": "INTEGER",
    "suggestion_confidence": "REAL",
    "model_version": "INTEGER",
    "strategy": "TEXT",
    "query_score": "REAL",
    "time_spent_ms": "REAL",
    "audit": "INTEGER NOT NULL",
    "basis": "TEXT",
    "schema_version": "INTEGER NOT NULL",
}
assert tuple(EVENT_COLUMN_TYPES) == EVENT_COLUMNS


OPINIONS_SQL = (
    f"SELECT DISTINCT e.annotator FROM {EVENTS_TABLE} e WHERE e.item_id = ? "
    "AND e.action = 'label' AND NOT EXISTS (SELECT 1 FROM "
    f"{EVENTS_TABLE} u WHERE u.action = 'undo' AND u.target_event_id = e.event_id)"
)


class StoreError(RuntimeError):
    """The store could not save or read; nothing acknowledged was lost."""


class StoreMismatchError(StoreError):
    """The store holds labels for another pool or another label set."""


@runtime_checkable
class LabelStore(Protocol):
    """Where label events live. `append` returns only once the events are durable."""

    location: str
    durable: bool

    def bind(self, fingerprint: str, classes: Sequence[str], n_items: int) -> None: ...

    def append(self, events: Sequence[LabelEvent]) -> int: ...

    def get_event(self, event_id: str) -> LabelEvent | None: ...

    def read_events(self) -> list[LabelEvent]: ...

    def read_since(self, position: int) -> list[tuple[int, LabelEvent]]: ...

    def claim(
        self, annotator: str, candidates: Sequence[str], n: int, overlap: int, ttl: float
    ) -> list[str]: ...

    def close(self) -> None: ...


def default_store_path(fingerprint: str) -> Path:
    """A file in the working directory named after the pool, so re-running resumes."""
    return Path.cwd() / f"hitl-labels-{fingerprint[:12]}.sqlite"


def open_store(spec: str | os.PathLike | LabelStore | None, fingerprint: str) -> LabelStore:
    """A store from None (default file), ':memory:', a path, a sqlite:/// or postgresql:// URL."""
    if isinstance(spec, LabelStore):
        return spec
    if spec is None:
        return SQLiteStore(default_store_path(fingerprint))
    if isinstance(spec, os.PathLike):
        return SQLiteStore(spec)
    if not isinstance(spec, str):
        raise TypeError(f"store must be a path, a URL or a LabelStore, got {type(spec).__name__}")
    if spec == ":memory:":
        return SQLiteStore(":memory:")
    if spec.startswith("sqlite:///"):
        return SQLiteStore(spec.removeprefix("sqlite:///"))
    if "://" in spec:
        from .store_postgres import PostgresStore, is_postgres_url

        if is_postgres_url(spec):
            return PostgresStore(spec)
        scheme = spec.split("://", 1)[0]
        raise ValueError(
            f"unsupported store URL scheme {scheme!r}: use a file path, sqlite:/// "
            "or a postgresql:// URL"
        )
    return SQLiteStore(spec)


class SQLiteStore:
    """Label events in one SQLite file (or in memory, explicitly not durable)."""

    BUSY_TIMEOUT_MS = 5_000
    RETRIES = 8

    def __init__(self, path: str | os.PathLike):
        self.durable = str(path) != ":memory:"
        self.location = str(Path(path).resolve()) if self.durable else ":memory:"
        if self.durable:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.location, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._configure(self._conn)
        self._create_schema()

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
        if self.durable:
            mode = self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
            if str(mode[0]).lower() != "wal":
                raise StoreError(f"{self.location}: cannot switch SQLite to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")

    def _retry_locked(self, run: Callable[[], Any]) -> Any:
        """Retry while another process holds the file (e.g. it is creating the store).

        Switching to WAL needs an exclusive lock and SQLite does not wait for it through
        the busy timeout, so a second process opening a brand-new store would fail.
        """
        delay = 0.005
        deadline = time.monotonic() + self.BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return run()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(f"{self.location}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.location}: still locked: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _create_schema(self) -> None:
        columns = ",\n  ".join(f"{name} {kind}" for name, kind in EVENT_COLUMN_TYPES.items())
        self._write(
            [
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (\n"
                f"  position INTEGER PRIMARY KEY AUTOINCREMENT,\n  {columns}\n)",
                f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_item ON {EVENTS_TABLE} (item_id)",
                f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_target "
                f"ON {EVENTS_TABLE} (target_event_id)",
                f"CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (item_id TEXT NOT NULL, "
                "annotator TEXT NOT NULL, expires_at REAL NOT NULL, "
                "PRIMARY KEY (item_id, annotator))",
            ]
        )

    def _write(self, statements: Sequence[str | tuple[str, Sequence]]) -> int:
        """Run statements in one BEGIN IMMEDIATE transaction, retrying while locked.

        Returns the number of rows the transaction changed.
        """
        delay = 0.005
        for attempt in range(self.RETRIES):
            with self._lock:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    before = self._conn.total_changes
                    try:
                        for statement in statements:
                            if isinstance(statement, tuple):
                                sql, params = statement
                                if params and isinstance(params[0], (tuple, list)):
                                    self._conn.executemany(sql, params)
                                else:
                                    self._conn.execute(sql, params)
                            else:
                                self._conn.execute(statement)
                        changed = self._conn.total_changes - before
                        self._conn.execute("COMMIT")
                        return changed
                    except BaseException:
                        self._conn.execute("ROLLBACK")
                        raise
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise StoreError(f"{self.location}: {exc}") from exc
                    if attempt == self.RETRIES - 1:
                        raise StoreError(
                            f"{self.location}: still locked after {self.RETRIES} tries"
                        ) from exc
                except sqlite3.DatabaseError as exc:
                    raise StoreError(f"{self.location}: {exc}") from exc
            time.sleep(delay)
            delay *= 2

    def bind(self, fingerprint: str, classes: Sequence[str], n_items: int) -> None:
        """Tie the store to one pool and label set, or check that it already is."""
        meta = dict(self._conn.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
        if not meta:
            rows = {
                "schema_version": str(SCHEMA_VERSION),
                "pool_fingerprint": fingerprint,
                "classes": json.dumps(list(classes)),
                "n_items": str(n_items),
            }
            sql = (
                f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
            )
            self._write([(sql, list(rows.items()))])
            meta = dict(self._conn.execute(f"SELECT key, value FROM {META_TABLE}").fetchall())
        check_binding(meta, fingerprint, classes, n_items, self.location)

    def append(self, events: Sequence[LabelEvent]) -> int:
        """Insert events durably; returns how many were new (the rest were already stored)."""
        if not events:
            return 0
        names = ", ".join(EVENT_COLUMNS)
        marks = ", ".join("?" for _ in EVENT_COLUMNS)
        sql = (
            f"INSERT INTO {EVENTS_TABLE} ({names}) VALUES ({marks}) "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        rows = [tuple(getattr(e, c) for c in EVENT_COLUMNS) for e in events]
        return self._write([(sql, rows)])

    def get_event(self, event_id: str) -> LabelEvent | None:
        names = ", ".join(EVENT_COLUMNS)
        with self._lock:
            row = self._conn.execute(
                f"SELECT {names} FROM {EVENTS_TABLE} WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else event_from_row(row)

    def read_events(self) -> list[LabelEvent]:
        names = ", ".join(EVENT_COLUMNS)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {names} FROM {EVENTS_TABLE} ORDER BY position"
            ).fetchall()
        return [event_from_row(row) for row in rows]

    def read_since(self, position: int) -> list[tuple[int, LabelEvent]]:
        """Events committed after `position`, with their positions (for syncing)."""
        names = ", ".join(EVENT_COLUMNS)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT position, {names} FROM {EVENTS_TABLE} WHERE position > ? "
                "ORDER BY position",
                (position,),
            ).fetchall()
        return [(row[0], event_from_row(row[1:])) for row in rows]

    def claim(
        self, annotator: str, candidates: Sequence[str], n: int, overlap: int, ttl: float
    ) -> list[str]:
        """Reserve up to n of `candidates` (best first) for `annotator`, atomically.

        An item is open to her if she has no opinion on it yet and its opinions plus the
        live claims of others who have not answered stay below `overlap`. BEGIN IMMEDIATE
        takes SQLite's write lock, so concurrent claimers are serialised.
        """
        won: list[str] = []
        for attempt in range(self.RETRIES):
            with self._lock:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        now = time.time()
                        for item in candidates:
                            if len(won) >= n:
                                break
                            if self._open(item, annotator, overlap, now):
                                self._conn.execute(
                                    f"INSERT INTO {CLAIMS_TABLE} (item_id, annotator, expires_at) "
                                    "VALUES (?, ?, ?) ON CONFLICT (item_id, annotator) "
                                    "DO UPDATE SET expires_at = excluded.expires_at",
                                    (item, annotator, now + ttl),
                                )
                                won.append(item)
                        self._conn.execute("COMMIT")
                        return won
                    except BaseException:
                        self._conn.execute("ROLLBACK")
                        won.clear()
                        raise
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise StoreError(f"{self.location}: {exc}") from exc
            time.sleep(0.005 * 2**attempt)
        raise StoreError(f"{self.location}: still locked after {self.RETRIES} tries")

    def _open(self, item: str, annotator: str, overlap: int, now: float) -> bool:
        opinions = {row[0] for row in self._conn.execute(OPINIONS_SQL, (item,))}
        if annotator in opinions:
            return False
        claimers = {
            row[0]
            for row in self._conn.execute(
                f"SELECT annotator FROM {CLAIMS_TABLE} WHERE item_id = ? AND annotator != ? "
                "AND expires_at > ?",
                (item, annotator, now),
            )
        }
        return len(opinions) + len(claimers - opinions) < overlap

    def integrity_check(self) -> str:
        with self._lock:
            return self._conn.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.location!r})"


def check_binding(
    meta: dict[str, str], fingerprint: str, classes: Sequence[str], n_items: int, where: str
) -> None:
    """Raise StoreMismatchError unless the store was made for this pool and label set."""
    version = int(meta.get("schema_version", SCHEMA_VERSION))
    if version > SCHEMA_VERSION:
        raise StoreMismatchError(
            f"{where} was written by a newer hitl_widgets (schema {version}); upgrade to read it"
        )
    stored_classes = json.loads(meta.get("classes", "[]"))
    if list(stored_classes) != list(classes):
        raise StoreMismatchError(
            f"{where} holds labels for the classes {stored_classes!r}, not {list(classes)!r}; "
            "nothing was changed: use another store for a new label set"
        )
    if meta.get("pool_fingerprint") != fingerprint:
        raise StoreMismatchError(
            f"{where} holds labels for a different pool ({meta.get('n_items')} items, "
            f"fingerprint {meta.get('pool_fingerprint')}), not this one ({n_items} items, "
            f"fingerprint {fingerprint}); nothing was changed: use another store path"
        )


def event_from_row(row: Sequence) -> LabelEvent:
    values = dict(zip(EVENT_COLUMNS, row, strict=True))
    if values["suggestion_shown"] is not None:
        values["suggestion_shown"] = bool(values["suggestion_shown"])
    values["audit"] = bool(values["audit"])
    return LabelEvent(**values)


def events_frame(events: Sequence[LabelEvent]) -> pd.DataFrame:
    """The audit trail as a DataFrame, one row per event in commit order."""
    frame = pd.DataFrame([e.as_row() for e in events], columns=list(EVENT_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return frame
