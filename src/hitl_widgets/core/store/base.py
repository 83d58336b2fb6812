"""What every label store shares: the protocol, the errors, the schema and its migrations.

The SQL here is kept to what SQLite and PostgreSQL both accept (ON CONFLICT, TEXT, REAL,
INTEGER, `:name` parameters), so both backends run the same statements; a backend only
supplies its spelling of the column types and of the auto-numbered `position` column.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from ..events import EVENT_COLUMNS, SCHEMA_VERSION, LabelEvent, text_problem

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
    "selection_probability": "REAL",
    "query_policy": "TEXT",
    "schema_version": "INTEGER NOT NULL",
}
assert tuple(EVENT_COLUMN_TYPES) == EVENT_COLUMNS

# the columns a store must have once migrated; anything less is not a hitl_widgets store
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    META_TABLE: ("key", "value"),
    EVENTS_TABLE: ("position", *EVENT_COLUMNS),
    CLAIMS_TABLE: ("item_id", "annotator", "expires_at"),
}

_NAMES = ", ".join(EVENT_COLUMNS)
INSERT_EVENT_SQL = (
    f"INSERT INTO {EVENTS_TABLE} ({_NAMES}) VALUES ({', '.join(f':{c}' for c in EVENT_COLUMNS)}) "
    "ON CONFLICT (event_id) DO NOTHING"
)
GET_EVENT_SQL = f"SELECT {_NAMES} FROM {EVENTS_TABLE} WHERE event_id = :id"
EVENTS_SINCE_SQL = (
    f"SELECT position, {_NAMES} FROM {EVENTS_TABLE} WHERE position > :p ORDER BY position"
)
META_SQL = f"SELECT key, value FROM {META_TABLE}"
BIND_SQL = (
    f"INSERT INTO {META_TABLE} (key, value) VALUES (:key, :value) ON CONFLICT (key) DO NOTHING"
)
VERSION_SQL = f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'"
SET_VERSION_SQL = (
    f"INSERT INTO {META_TABLE} (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}') "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
OPINIONS_SQL = (
    f"SELECT DISTINCT e.annotator FROM {EVENTS_TABLE} e WHERE e.item_id = :item "
    "AND e.action = 'label' AND NOT EXISTS (SELECT 1 FROM "
    f"{EVENTS_TABLE} u WHERE u.action = 'undo' AND u.target_event_id = e.event_id)"
)
CLAIMERS_SQL = (
    f"SELECT annotator FROM {CLAIMS_TABLE} WHERE item_id = :item AND annotator != :who "
    "AND expires_at > :now"
)
CLAIM_SQL = (
    f"INSERT INTO {CLAIMS_TABLE} (item_id, annotator, expires_at) VALUES (:item, :who, :until) "
    "ON CONFLICT (item_id, annotator) DO UPDATE SET expires_at = excluded.expires_at"
)

ColumnType = Callable[[str], str]  # a portable column type -> the backend's spelling of it
Run = Callable[[str], Sequence[Sequence[Any]]]  # runs one SQL statement, returns its rows
Query = Callable[[str, dict[str, Any]], Iterable[Sequence[Any]]]  # the same, with parameters
Migration = Callable[[ColumnType], list[str]]  # the statements of one step, version n -> n+1


class StoreError(RuntimeError):
    """The store could not save or read; nothing acknowledged was lost."""


class StoreMismatchError(StoreError):
    """The store holds labels for another pool or another label set, or a newer schema."""


class StoreCorruptError(StoreError):
    """The file or database is not a hitl_widgets store, or is damaged."""


class StoreVanishedError(StoreError):
    """The store's file was deleted or replaced while it was open: nothing more is saved."""


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


def corrupt_error(where: str, cause: object) -> StoreCorruptError:
    return StoreCorruptError(
        f"{where} is not a hitl_widgets store or the file is corrupt ({cause})"
    )


# ------------------------------------------------------------------ schema and migrations
def create_statements(column_type: ColumnType, position: str) -> list[str]:
    """The tables of a store that has no events table yet, at SCHEMA_VERSION."""
    columns = ",\n  ".join(
        f"{name} {column_type(kind)}" for name, kind in EVENT_COLUMN_TYPES.items()
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (\n  position {position},\n  {columns}\n)",
        f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_item ON {EVENTS_TABLE} (item_id)",
        f"CREATE INDEX IF NOT EXISTS {EVENTS_TABLE}_target ON {EVENTS_TABLE} (target_event_id)",
        f"CREATE TABLE IF NOT EXISTS {CLAIMS_TABLE} (item_id TEXT NOT NULL, "
        f"annotator TEXT NOT NULL, expires_at {column_type('REAL')} NOT NULL, "
        "PRIMARY KEY (item_id, annotator))",
    ]


def add_event_columns(*columns: tuple[str, str]) -> Migration:
    """A step that adds nullable event columns: rows written before read back None.

    The types are written out here rather than taken from EVENT_COLUMN_TYPES, so a step
    keeps doing what it did when later versions change the table again.
    """

    def statements(column_type: ColumnType) -> list[str]:
        return [
            f"ALTER TABLE {EVENTS_TABLE} ADD COLUMN {name} {column_type(kind)}"
            for name, kind in columns
        ]

    return statements


# MIGRATIONS[n - 1] takes a store from version n to n + 1
MIGRATIONS: tuple[Migration, ...] = (
    # 1 -> 2: what unbiased accuracy estimates under active sampling need from each label
    add_event_columns(("selection_probability", "REAL"), ("query_policy", "TEXT")),
)
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


def stored_version(run: Run, where: str) -> int:
    """The schema version the store was written with (version 1 recorded it only on bind)."""
    rows = run(VERSION_SQL)
    if not rows:
        return 1
    value = rows[0][0]
    if not str(value).isdigit() or int(value) < 1:
        raise corrupt_error(where, f"schema version {value!r}")
    return int(value)


def migrate(run: Run, version: int, column_type: ColumnType, where: str) -> None:
    """Bring a store written at `version` up to SCHEMA_VERSION, keeping every event.

    Steps only add to the tables, so an older hitl_widgets can still see what it knew, but
    it refuses the store once the recorded version is newer than its own.
    """
    if version > SCHEMA_VERSION:
        raise StoreMismatchError(
            f"{where} was written by a newer hitl_widgets (schema {version}); upgrade to read it"
        )
    if version == SCHEMA_VERSION:
        return
    for step in MIGRATIONS[version - 1 :]:
        for sql in step(column_type):
            run(sql)
    run(SET_VERSION_SQL)


def prepare_schema(
    run: Run,
    columns: Callable[[str], set[str]],
    create: Sequence[str],
    column_type: ColumnType,
    where: str,
) -> None:
    """Create a new store, or check an existing one and migrate it, and check every column.

    A table or column missing from an existing store means it is not one (or is damaged):
    it is refused (the caller's transaction rolls back), never patched up.

    The caller runs this in one write transaction under its lock (SQLite: BEGIN IMMEDIATE,
    PostgreSQL: the schema advisory lock), so processes opening one store at once create
    or migrate it exactly once, and a migration that fails leaves the store as it was.
    """
    if not columns(EVENTS_TABLE):
        for sql in create:
            run(sql)
        run(SET_VERSION_SQL)
    else:
        absent = [table for table in TABLE_COLUMNS if not columns(table)]
        if absent:
            raise corrupt_error(where, f"it has no table {', '.join(absent)}")
        migrate(run, stored_version(run, where), column_type, where)
    for table, needed in TABLE_COLUMNS.items():
        missing = [column for column in needed if column not in columns(table)]
        if missing:
            raise corrupt_error(where, f"table {table} lacks the columns {', '.join(missing)}")


# --------------------------------------------------------------------- binding and rows
def binding_rows(fingerprint: str, classes: Sequence[str], n_items: int) -> list[dict[str, str]]:
    """The meta rows that tie a store to one pool and label set (inserted once, never changed)."""
    rows = {
        "pool_fingerprint": fingerprint,
        "classes": json.dumps(list(classes)),
        "n_items": str(n_items),
    }
    return [{"key": key, "value": value} for key, value in rows.items()]


def check_binding(
    meta: dict[str, str], fingerprint: str, classes: Sequence[str], n_items: int, where: str
) -> None:
    """Raise StoreMismatchError unless the store was made for this pool and label set."""
    try:
        stored_classes = json.loads(meta.get("classes", "[]"))
    except ValueError:
        raise corrupt_error(where, f"its classes are {meta['classes'][:80]!r}") from None
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


def event_params(events: Sequence[LabelEvent], where: str) -> list[dict[str, Any]]:
    """The insert parameters of `events`, refusing text no backend can keep.

    Ids and labels are checked where they enter the package; this is the last line, so one
    that got through fails the same clear way on every backend, not as a driver error.
    """
    rows = []
    for event in events:
        row = event.as_row()
        for column, value in row.items():
            problem = text_problem(value) if isinstance(value, str) else None
            if problem is not None:
                raise StoreError(f"{where}: cannot store {column} {value[:40]!r}: it {problem}")
            if isinstance(value, bool):
                row[column] = int(value)
        rows.append(row)
    return rows


def check_ids(ids: Iterable[str], where: str) -> None:
    """Refuse item ids or names no backend can keep, before a claim touches the store."""
    for value in ids:
        problem = text_problem(value)
        if problem is not None:
            raise StoreError(f"{where}: cannot claim {value[:40]!r}: it {problem}")


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


def slot_open(query: Query, item: str, annotator: str, overlap: int, now: float) -> bool:
    """True if `annotator` may claim `item`.

    She may if she has no opinion on it yet and its opinions plus the live claims of others
    who have not answered stay below `overlap`.
    """
    opinions = {row[0] for row in query(OPINIONS_SQL, {"item": item})}
    if annotator in opinions:
        return False
    claimers = {row[0] for row in query(CLAIMERS_SQL, {"item": item, "who": annotator, "now": now})}
    return len(opinions) + len(claimers - opinions) < overlap
