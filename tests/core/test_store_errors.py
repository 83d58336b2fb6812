"""Store failures: each is a StoreError that names the file or server and the real cause.

Files vanish under a running session, disks fill up, files are garbage or belong to
another program, servers stop: none of it may acknowledge a label that a new session
could not read back, and none of it may surface as a raw driver error.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hitl_widgets.core.events import LabelEvent, new_event_id, utc_now
from hitl_widgets.core.store import (
    SQLiteStore,
    StoreCorruptError,
    StoreError,
    StoreVanishedError,
    open_store,
)

CLASSES = ["neg", "pos"]


def event(item: str = "1", **extra) -> LabelEvent:
    return LabelEvent(
        event_id=new_event_id(),
        item_id=item,
        item_hash="0",
        annotator=extra.pop("annotator", "ana"),
        session_id="s",
        seq=1,
        created_at=utc_now(),
        action="label",
        label="pos",
        **extra,
    )


@pytest.fixture
def connections(monkeypatch) -> list[sqlite3.Connection]:
    """The SQLite connections stores open during the test, to inject faults into."""
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording(*args, **kwargs) -> sqlite3.Connection:
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording)
    return opened


def bound_store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.bind("fp", CLASSES, 10)
    return store


def event_ids(path: Path) -> list[str]:
    """The event ids a fresh store on `path` reads back (what a new session would see)."""
    store = SQLiteStore(path)
    try:
        assert store.integrity_check() == "ok"
        return [e.event_id for e in store.read_events()]
    finally:
        store.close()


# ------------------------------------------------------------------- vanished files
# each makes the store's files vanish and returns the event ids the path holds afterwards
def delete_file(path: Path, acknowledged: list[str]) -> list[str]:
    path.unlink()
    return []


def delete_wal(path: Path, acknowledged: list[str]) -> list[str]:
    Path(f"{path}-wal").unlink()
    return acknowledged  # closing the store puts the labels the -wal held into the file


def delete_folder(path: Path, acknowledged: list[str]) -> list[str]:
    shutil.rmtree(path.parent)
    path.parent.mkdir()
    return []


def replace_by_another_store(path: Path, acknowledged: list[str]) -> list[str]:
    other = path.with_name("other.sqlite")
    store = bound_store(other)
    theirs = event("9", annotator="zed")
    store.append([theirs])
    store.close()
    os.replace(other, path)
    return [theirs.event_id]  # and nothing of ours applied over it


@pytest.mark.parametrize(
    "vanish",
    [delete_file, delete_wal, delete_folder, replace_by_another_store],
    ids=["file-deleted", "wal-deleted", "folder-deleted", "replaced"],
)
def test_a_vanished_store_acknowledges_nothing(tmp_path: Path, vanish) -> None:
    path = tmp_path / "labels" / "store.sqlite"
    store = bound_store(path)
    acknowledged = [event(str(i)) for i in range(3)]
    for e in acknowledged:
        assert store.append([e]) == 1
    expected = vanish(path, [e.event_id for e in acknowledged])

    lost = event("5")
    with pytest.raises(StoreVanishedError) as info:
        store.append([lost])
    message = str(info.value)
    assert str(path) in message
    assert "deleted or replaced while the session ran" in message
    assert "the last label was NOT saved" in message
    # it stays unusable: nothing after the first failure is acknowledged either
    with pytest.raises(StoreVanishedError):
        store.append([event("6")])
    with pytest.raises(StoreVanishedError):
        store.claim("ana", ["7"], 1, 1, 60)

    # a new store opens on the path while the old one still exists, and closing the
    # old one afterwards does not harm it
    fresh = bound_store(path)
    store.close()
    after = event("8")
    assert fresh.append([after]) == 1
    fresh.close()
    assert event_ids(path) == [*expected, after.event_id]


def test_a_file_deleted_during_the_commit_is_not_acknowledged(
    tmp_path: Path, connections: list[sqlite3.Connection]
) -> None:
    """The commit into the deleted file succeeds; the check after it refuses to return."""
    path = tmp_path / "store.sqlite"
    store = bound_store(path)
    store.append([event("1")])

    def delete_on_insert(sql: str) -> None:
        if sql.startswith("INSERT INTO hitl_events") and path.exists():
            path.unlink()

    connections[-1].set_trace_callback(delete_on_insert)
    lost = event("2")
    with pytest.raises(StoreVanishedError, match="NOT saved"):
        store.append([lost])
    store.close()
    assert event_ids(path) == []


# ------------------------------------------------------------------------- full disk
def fill(store: SQLiteStore) -> tuple[list[str], StoreError]:
    """Append large events until the store refuses; returns the acknowledged ids and error."""
    acknowledged = []
    for i in range(10_000):
        e = event(str(i), basis="x" * 20_000)
        try:
            store.append([e])
        except StoreError as exc:
            return acknowledged, exc
        acknowledged.append(e.event_id)
    raise AssertionError("the store never filled up")


def test_disk_full_is_reported_as_such(
    tmp_path: Path, connections: list[sqlite3.Connection]
) -> None:
    """SQLite's page limit stands in for a full disk: same error, same code path."""
    path = tmp_path / "store.sqlite"
    store = bound_store(path)
    conn = connections[-1]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 40}")
    acknowledged, error = fill(store)
    assert str(path) in str(error)
    assert "database or disk is full" in str(error)
    assert "rollback" not in str(error)
    assert acknowledged
    conn.execute("PRAGMA max_page_count = 1000000")  # space again: it goes on working
    later = event("later")
    assert store.append([later]) == 1
    store.close()
    assert event_ids(path) == [*acknowledged, later.event_id]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs: a real full disk (needs root, as in the test containers)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_is_reported_as_such(tiny_disk: Path) -> None:
    path = tiny_disk / "store.sqlite"
    store = bound_store(path)
    acknowledged, error = fill(store)
    store.close()
    assert str(path) in str(error)
    assert "database or disk is full" in str(error)
    assert acknowledged
    assert event_ids(path) == acknowledged


# ------------------------------------------------------------------ not a store at all
def assert_corrupt(path: Path, fragment: str, same_bytes: bool = True) -> None:
    before = path.read_bytes()
    with pytest.raises(StoreCorruptError) as info:
        store = SQLiteStore(path)
        try:
            store.read_events()
        finally:
            store.close()
    message = str(info.value)
    assert message.startswith(f"{path} is not a hitl_widgets store or the file is corrupt (")
    assert fragment in message
    if same_bytes:
        assert path.read_bytes() == before  # refused, not "repaired"


def test_a_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"these are not the labels you are looking for\n" * 200)
    assert_corrupt(path, "file is not a database")


@pytest.mark.parametrize("keep", [0.01, 0.5, 0.9])
def test_a_truncated_store_is_refused(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "store.sqlite"
    store = bound_store(path)
    for i in range(200):
        store.append([event(str(i), basis="x" * 500)])
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    assert_corrupt(path, "malformed")


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ana')")
    conn.commit()
    conn.close()
    assert_corrupt(path, "it holds the tables users")


def test_a_store_missing_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE hitl_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE hitl_events (position INTEGER PRIMARY KEY, event_id TEXT);"
        "CREATE TABLE hitl_claims (item_id TEXT, annotator TEXT, expires_at REAL);"
        "INSERT INTO hitl_meta VALUES ('schema_version', '2');"
    )
    conn.close()
    # the file has the store's tables, so it was switched to WAL, but nothing else changed
    assert_corrupt(path, "table hitl_events lacks the columns item_id, item_hash", False)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA table_info(hitl_events)").fetchall()[1][1] == "event_id"
    assert len(conn.execute("PRAGMA table_info(hitl_events)").fetchall()) == 2
    conn.close()


# ------------------------------------------------------------------- text no one keeps
def test_a_nul_in_an_id_is_a_store_error_on_every_backend(store_spec: str) -> None:
    store = open_store(store_spec, "fp")
    store.bind("fp", CLASSES, 10)
    with pytest.raises(StoreError, match=r"item_id 'a\\x00b'.*NUL"):
        store.append([event("a\x00b")])
    with pytest.raises(StoreError, match=r"cannot claim 'c\\x00'.*NUL"):
        store.claim("ana", ["1", "c\x00"], 2, 1, 60)
    assert store.read_events() == []
    assert store.claim("ana", ["1"], 1, 1, 60) == ["1"]  # the store is unharmed
    store.close()


# ---------------------------------------------------------------- PostgreSQL offline
@pytest.fixture
def own_server() -> Iterator[tuple[str, Callable[[], None]]]:
    """A PostgreSQL server of this test's own, so the test may stop it."""
    from pg_server import fresh_database, postgres_bin, start_postgres

    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    url, stop = start_postgres()
    try:
        database = fresh_database(url, f"t_{uuid.uuid4().hex[:12]}")
        yield database.replace("hitl@", "hitl:s3cret@"), stop  # trust auth ignores it
    finally:
        stop()


def assert_names_server(error: StoreError, url: str) -> None:
    message = str(error)
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    assert host_port in message
    assert "s3cret" not in message and "***" in message
    assert "sqlalchemy" not in message.lower()
    assert isinstance(error.__cause__, Exception)


def test_a_stopped_server_is_a_store_error_on_every_path(own_server) -> None:
    url, stop = own_server
    store = open_store(url, "fp")
    store.bind("fp", CLASSES, 10)
    saved = event("1")
    store.append([saved])
    stop()
    calls = {
        "read_events": store.read_events,
        "read_since": lambda: store.read_since(0),
        "get_event": lambda: store.get_event(saved.event_id),
        "claim": lambda: store.claim("ana", ["2"], 1, 1, 60),
        "append": lambda: store.append([event("3")]),
        "bind": lambda: store.bind("fp", CLASSES, 10),
        "integrity_check": store.integrity_check,
        "open": lambda: open_store(url, "fp"),
    }
    for name, call in calls.items():
        with pytest.raises(StoreError) as info:
            call()
        assert_names_server(info.value, url)
        assert "could not" in str(info.value), name
    store.close()


def test_opening_a_closed_port_is_a_store_error() -> None:
    from pg_server import free_port

    url = f"postgresql://ana:s3cret@127.0.0.1:{free_port()}/labels"
    with pytest.raises(StoreError) as info:
        open_store(url, "fp")
    assert_names_server(info.value, url)
    assert "refused" in str(info.value)


def test_a_postgres_table_missing_columns_is_refused(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE hitl_meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.exec_driver_sql("CREATE TABLE hitl_events (position BIGINT, event_id TEXT)")
        conn.exec_driver_sql("CREATE TABLE hitl_claims (item_id TEXT, annotator TEXT)")
    engine.dispose()
    with pytest.raises(StoreCorruptError, match="lacks the columns"):
        open_store(postgres_url, "fp")


def test_an_unparsable_url_does_not_show_its_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://ana:s3cret@host:notaport/db", "fp")
    assert "s3cret" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
