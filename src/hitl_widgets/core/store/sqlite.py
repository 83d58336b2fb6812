"""The embedded store: label events in one SQLite file, and `open_store`.

SQLite runs in WAL mode with `synchronous=FULL` on every connection: measured on these
machines, NORMAL lost acknowledged labels under simulated power loss and FULL lost none,
for about one fsync per label. Writes run in `BEGIN IMMEDIATE` with a busy timeout and a
bounded retry, and inserts are idempotent on the client-made event id, so a retried
submission is never counted twice.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..events import LabelEvent
from .base import (
    BIND_SQL,
    CLAIM_SQL,
    EVENTS_SINCE_SQL,
    EVENTS_TABLE,
    GET_EVENT_SQL,
    INSERT_EVENT_SQL,
    META_SQL,
    TABLE_COLUMNS,
    LabelStore,
    StoreError,
    StoreVanishedError,
    binding_rows,
    check_binding,
    check_ids,
    corrupt_error,
    create_statements,
    event_from_row,
    event_params,
    prepare_schema,
    slot_open,
)

T = TypeVar("T")
CORRUPT_MESSAGES = ("file is not a database", "database disk image is malformed")


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
    if spec.startswith("sqlite:///"):
        return SQLiteStore(spec.removeprefix("sqlite:///"))
    if "://" not in spec:
        return SQLiteStore(spec)
    scheme = spec.split("://", 1)[0]
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        from .postgres import PostgresStore  # SQLAlchemy is imported only for a team store

        return PostgresStore(spec)
    raise ValueError(
        f"unsupported store URL scheme {scheme!r}: use a file path, sqlite:/// "
        "or a postgresql:// URL"
    )


def _is_locked(exc: sqlite3.Error) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already undone it.

    A failed COMMIT (disk full, I/O error) rolls back by itself; a second ROLLBACK would
    then fail and hide the real cause. A failing rollback is likewise not the news.
    """
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _file_id(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


class SQLiteStore:
    """Label events in one SQLite file (or in memory, explicitly not durable)."""

    BUSY_TIMEOUT_MS = 5_000
    RETRIES = 8

    def __init__(self, path: str | os.PathLike):
        self.durable = str(path) != ":memory:"
        self.location = str(Path(path).resolve()) if self.durable else ":memory:"
        self._lock = threading.Lock()
        self._files: dict[str, tuple[int, int]] = {}  # path -> (st_dev, st_ino) when opened
        self._vanished: str | None = None  # why the store can no longer be used
        try:
            if self.durable:
                Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.location, isolation_level=None, check_same_thread=False, timeout=30
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.location}: cannot open the store: {exc}") from exc
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        """Configure the connection, create or migrate the schema, note the files opened."""
        self._conn.execute(f"PRAGMA busy_timeout = {self.BUSY_TIMEOUT_MS}")
        if self.durable:
            # before switching to WAL, which would rewrite another application's file
            self._retry_locked(self._refuse_foreign_file)
            mode = self._retry_locked(
                lambda: self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
            )
            if str(mode[0]).lower() != "wal":
                raise StoreError(f"{self.location}: cannot switch SQLite to WAL mode (got {mode})")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._transaction(self._prepare_schema, "create the store")
        if self.durable:
            try:  # the -wal exists from the first transaction until the last connection closes
                self._files = {p: _file_id(p) for p in (self.location, f"{self.location}-wal")}
            except OSError as exc:
                raise StoreError(f"{self.location}: cannot open the store: {exc}") from exc

    def _refuse_foreign_file(self) -> None:
        """A database with tables but no label events belongs to something else: leave it."""
        tables = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        names = {row[0] for row in tables}
        foreign = sorted(n for n in names - set(TABLE_COLUMNS) if not n.startswith("sqlite_"))
        if foreign and EVENTS_TABLE not in names:
            raise corrupt_error(self.location, f"it holds the tables {', '.join(foreign[:5])}")

    def _prepare_schema(self, conn: sqlite3.Connection) -> None:
        prepare_schema(
            run=lambda sql: conn.execute(sql).fetchall(),
            columns=lambda table: {row[1] for row in conn.execute(f"PRAGMA table_info({table})")},
            create=create_statements(str, "INTEGER PRIMARY KEY AUTOINCREMENT"),
            column_type=str,  # SQLite takes the portable types as they are
            where=self.location,
        )

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """The StoreError to raise for a driver error: what failed, where, and why."""
        if any(message in str(exc) for message in CORRUPT_MESSAGES):
            return corrupt_error(self.location, exc)
        return StoreError(f"{self.location}: could not {doing}: {exc}")

    def _retry_locked(self, run: Callable[[], T]) -> T:
        """Retry while another process holds the file (e.g. it is creating the store).

        Switching to WAL needs an exclusive lock and SQLite does not wait for it through
        the busy timeout, so a second process opening a brand-new store would fail.
        """
        delay = 0.005
        deadline = time.monotonic() + self.BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return run()
            except sqlite3.Error as exc:
                if not _is_locked(exc):
                    raise self._error(exc, "open the store") from exc
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.location}: still locked: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _connection(self) -> sqlite3.Connection:
        if self._vanished is not None:
            raise StoreVanishedError(self._vanished)
        return self._conn

    def _is_opened_file(self, path: str) -> bool:
        try:
            return _file_id(path) == self._files[path]
        except OSError:
            return False

    def _check_files(self) -> None:
        """Raise StoreVanishedError unless the path still names the files that were opened.

        SQLite writes through the descriptors it opened, so after the file, its -wal or its
        folder is deleted or replaced, commits keep succeeding into files no new session
        will ever read. Closing the connection at once stops that; when only the -wal was
        deleted, SQLite's close also copies the labels it held into the database file.
        When the database file is gone, its -wal is removed too: SQLite would otherwise
        apply it to whatever file is put at the path next and corrupt that one.
        """
        changed = [path for path in self._files if not self._is_opened_file(path)]
        if not changed:
            return
        folder = Path(self.location).parent
        what = (
            f"the folder {folder} is gone"
            if not folder.is_dir()
            else "; ".join(
                f"{path} {'is another file now' if os.path.exists(path) else 'is gone'}"
                for path in changed
            )
        )
        self._vanished = (
            f"{self.location} was deleted or replaced while the session ran ({what}); "
            "the last label was NOT saved, and nothing more can be saved to it: open the "
            "store again (a new session on this path starts a new file if it is gone)"
        )
        self._conn.close()
        wal = f"{self.location}-wal"
        if self.location in changed and self._is_opened_file(wal):
            with contextlib.suppress(OSError):
                os.unlink(wal)
        raise StoreVanishedError(self._vanished)

    def _transaction(self, work: Callable[[sqlite3.Connection], T], doing: str) -> T:
        """Run `work` in one BEGIN IMMEDIATE transaction, retrying while another writer holds it.

        The files are checked before BEGIN, so nothing is written into a file that has
        vanished, and again after COMMIT, before returning: a commit into a deleted file
        succeeds like any other, so only a check after it keeps a caller from acknowledging
        a label that a new session could not read back.
        """
        attempt = 0
        while True:
            with self._lock:
                conn = self._connection()
                self._check_files()
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    result = work(conn)
                    conn.execute("COMMIT")
                except BaseException as exc:
                    _rollback(conn)
                    if not isinstance(exc, sqlite3.Error):
                        raise
                    if not _is_locked(exc):
                        raise self._error(exc, doing) from exc
                    attempt += 1
                    if attempt == self.RETRIES:
                        raise StoreError(
                            f"{self.location}: could not {doing}: still locked after "
                            f"{self.RETRIES} tries ({exc})"
                        ) from exc
                else:
                    self._check_files()
                    return result
            time.sleep(0.0025 * 2**attempt)

    def _read(self, sql: str, params: dict[str, Any], doing: str) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from exc

    def bind(self, fingerprint: str, classes: Sequence[str], n_items: int) -> None:
        """Tie the store to one pool and label set, or check that it already is."""
        meta = dict(self._read(META_SQL, {}, "read the store's binding"))
        if "pool_fingerprint" not in meta:
            rows = binding_rows(fingerprint, classes, n_items)
            self._transaction(lambda conn: conn.executemany(BIND_SQL, rows), "bind the store")
            meta = dict(self._read(META_SQL, {}, "read the store's binding"))
        check_binding(meta, fingerprint, classes, n_items, self.location)

    def append(self, events: Sequence[LabelEvent]) -> int:
        """Insert events durably; returns how many were new (the rest were already stored)."""
        if not events:
            return 0
        rows = event_params(events, self.location)

        def insert(conn: sqlite3.Connection) -> int:
            before = conn.total_changes
            conn.executemany(INSERT_EVENT_SQL, rows)
            return conn.total_changes - before

        return self._transaction(insert, "save the label")

    def get_event(self, event_id: str) -> LabelEvent | None:
        rows = self._read(GET_EVENT_SQL, {"id": event_id}, "read an event")
        return event_from_row(rows[0]) if rows else None

    def read_events(self) -> list[LabelEvent]:
        return [event for _, event in self.read_since(0)]

    def read_since(self, position: int) -> list[tuple[int, LabelEvent]]:
        """Events committed after `position`, with their positions (for syncing)."""
        rows = self._read(EVENTS_SINCE_SQL, {"p": position}, "read the events")
        return [(row[0], event_from_row(row[1:])) for row in rows]

    def claim(
        self, annotator: str, candidates: Sequence[str], n: int, overlap: int, ttl: float
    ) -> list[str]:
        """Reserve up to n of `candidates` (best first) for `annotator`, atomically.

        BEGIN IMMEDIATE takes SQLite's write lock, so concurrent claimers are serialised.
        """
        check_ids([annotator, *candidates], self.location)

        def reserve(conn: sqlite3.Connection) -> list[str]:
            won: list[str] = []
            now = time.time()
            for item in candidates:
                if len(won) >= n:
                    break
                if slot_open(conn.execute, item, annotator, overlap, now):
                    conn.execute(CLAIM_SQL, {"item": item, "who": annotator, "until": now + ttl})
                    won.append(item)
            return won

        return self._transaction(reserve, "claim items")

    def integrity_check(self) -> str:
        return self._read("PRAGMA integrity_check", {}, "check the store")[0][0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.location!r})"
