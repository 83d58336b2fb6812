"""One store test suite, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import hitl_widgets as hw
from hitl_widgets.core.events import LabelEvent, new_event_id, utc_now
from hitl_widgets.core.store import SCHEMA_VERSION, StoreMismatchError, open_store

sys.path.insert(0, str(Path(__file__).parent / "_workers"))
from team_worker import team_pool

WORKER = Path(__file__).parent / "_workers" / "team_worker.py"
CLASSES = ["neg", "pos"]


def event(item: str, annotator: str = "ana", action: str = "label", **extra) -> LabelEvent:
    return LabelEvent(
        event_id=new_event_id(),
        item_id=item,
        item_hash="0",
        annotator=annotator,
        session_id="s",
        seq=1,
        created_at=utc_now(),
        action=action,
        label=extra.pop("label", "pos" if action == "label" else None),
        **extra,
    )


def test_append_is_idempotent_and_ordered(store_spec):
    store = open_store(store_spec, "fp")
    store.bind("fp", CLASSES, 10)
    first, second = (
        event("1"),
        event(
            "2",
            suggestion_shown=True,
            audit=True,
            suggestion_confidence=0.8125,
            time_spent_ms=1234.5,
            selection_probability=0.1,
            query_policy="entropy, 10% uniform",
        ),
    )
    assert store.append([first, second]) == 2
    assert store.append([first]) == 0
    assert [e.event_id for e in store.read_events()] == [first.event_id, second.event_id]
    back = store.get_event(second.event_id)
    assert back == second  # every field round-trips, booleans and floats included
    after = store.read_since(store.read_since(0)[0][0])
    assert [e.event_id for _, e in after] == [second.event_id]
    assert store.get_event("nope") is None
    assert store.integrity_check() == "ok"
    store.close()


def test_binding_refuses_another_pool_or_label_set(store_spec):
    store = open_store(store_spec, "fp")
    store.bind("fp", CLASSES, 10)
    store.append([event("1")])
    with pytest.raises(hw.StoreMismatchError, match="classes"):
        store.bind("fp", ["a", "b"], 10)
    with pytest.raises(hw.StoreMismatchError, match="different pool"):
        store.bind("other", CLASSES, 10)
    assert len(store.read_events()) == 1
    store.close()


def test_session_round_trip_and_resume(store_spec):
    data = team_pool(300)
    s = hw.Session(data, classes=CLASSES, store=store_spec, annotator="ana", random_state=0)
    for item in s.queue(8).index:
        s.submit(item, data.loc[item, "truth"])
    undone = s.undo()
    s.close()
    again = hw.Session(data, classes=CLASSES, store=store_spec, annotator="ana", random_state=0)
    assert len(again.labels) == 7 and undone not in again.labels.index
    again.wait()
    assert again.model_ is not None
    again.close()


def test_claims_respect_overlap(store_spec):
    data = team_pool(300)
    ana = hw.Session(data, classes=CLASSES, store=store_spec, annotator="ana", audit_share=0)
    bo = hw.Session(data, classes=CLASSES, store=store_spec, annotator="bo", audit_share=0)
    assert not set(ana.claim(10).index) & set(bo.claim(10).index)


def test_claims_share_items_up_to_overlap(store_spec):
    data = team_pool(300)
    cy = hw.Session(
        data,
        classes=CLASSES,
        store=store_spec,
        annotator="cy",
        overlap=2,
        audit_share=0,
        random_state=0,
    )
    dee = hw.Session(
        data,
        classes=CLASSES,
        store=store_spec,
        annotator="dee",
        overlap=2,
        audit_share=0,
        random_state=0,
    )
    shared = set(cy.claim(5).index) & set(dee.claim(5).index)
    assert len(shared) == 5
    eve = hw.Session(
        data,
        classes=CLASSES,
        store=store_spec,
        annotator="eve",
        overlap=2,
        audit_share=0,
        random_state=0,
    )
    assert not set(eve.claim(5).index) & shared


def run_team(
    store_spec: str, annotators: int, labels: int, pool_size: int, kill_one: bool
) -> tuple[dict[str, set[str]], float]:
    """Start annotator processes at once; returns acknowledged ids per annotator, seconds."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    names = [f"a{i}" for i in range(annotators)] + (["victim"] if kill_one else [])
    with contextlib.ExitStack() as stack:
        logs = {name: stack.enter_context(tempfile.TemporaryFile(mode="w+")) for name in names}
        procs = {
            name: subprocess.Popen(
                [sys.executable, str(WORKER), store_spec, name, str(labels), "1", str(pool_size)],
                stdout=subprocess.PIPE,
                stderr=logs[name],
                text=True,
                env=env,
            )
            for name in names
        }
        for proc in procs.values():
            assert proc.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        if kill_one:
            time.sleep(random.Random(7).uniform(1.0, 3.0))
            procs["victim"].send_signal(signal.SIGKILL)
        acked: dict[str, set[str]] = {}
        for name, proc in procs.items():
            out = proc.stdout.read()  # the reader readline() used: no buffered line lost
            proc.wait(timeout=600)
            acked[name] = {
                line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("ack ")
            }
            if name != "victim":
                logs[name].seek(0)
                assert proc.returncode == 0, logs[name].read()[-2000:]
        return acked, time.perf_counter() - started


@pytest.mark.slow
@pytest.mark.parametrize("labels", [1000])
def test_four_annotators_and_a_killed_one_lose_and_double_nothing(store_spec, labels):
    acked, _ = run_team(store_spec, annotators=4, labels=labels, pool_size=6000, kill_one=True)
    store = open_store(store_spec, "unused")
    events = store.read_events()
    assert store.integrity_check() == "ok"
    stored = Counter((e.annotator, e.item_id) for e in events if e.action == "label")
    for name, ids in acked.items():
        missing = {i for i in ids if (name, i) not in stored}
        assert not missing, f"{name}: acknowledged but not stored: {sorted(missing)[:5]}"
    assert all(n == 1 for n in stored.values()), "an annotator labeled one item twice"
    per_item = Counter(item for _, item in stored)
    assert max(per_item.values()) == 1, "an item was handed to two annotators (overlap 1)"
    assert sum(len(ids) for name, ids in acked.items() if name != "victim") == 4 * labels
    assert len({e.event_id for e in events}) == len(events)
    store.close()


# ------------------------------------------------------------------------- migrations
# The tables exactly as version 1 of the package created them (copied, not generated).
V1_COLUMNS = """
  event_id TEXT NOT NULL UNIQUE,
  item_id TEXT NOT NULL,
  item_hash TEXT NOT NULL,
  annotator TEXT NOT NULL,
  session_id TEXT NOT NULL,
  seq {int} NOT NULL,
  created_at TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('label', 'skip', 'undo', 'resolve')),
  label TEXT,
  target_event_id TEXT,
  suggestion TEXT,
  suggestion_shown {int},
  suggestion_confidence {real},
  model_version {int},
  strategy TEXT,
  query_score {real},
  time_spent_ms {real},
  audit {int} NOT NULL,
  basis TEXT,
  schema_version {int} NOT NULL"""
V1_SQLITE = [
    "CREATE TABLE IF NOT EXISTS hitl_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hitl_events (\n  position INTEGER PRIMARY KEY AUTOINCREMENT,"
    + V1_COLUMNS.format(int="INTEGER", real="REAL")
    + "\n)",
    "CREATE INDEX IF NOT EXISTS hitl_events_item ON hitl_events (item_id)",
    "CREATE INDEX IF NOT EXISTS hitl_events_target ON hitl_events (target_event_id)",
    "CREATE TABLE IF NOT EXISTS hitl_claims (item_id TEXT NOT NULL, annotator TEXT NOT NULL, "
    "expires_at REAL NOT NULL, PRIMARY KEY (item_id, annotator))",
]
V1_POSTGRES = [
    "CREATE TABLE IF NOT EXISTS hitl_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS hitl_events (\n"
    "  position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    + V1_COLUMNS.format(int="BIGINT", real="DOUBLE PRECISION")
    + "\n)",
    "CREATE INDEX IF NOT EXISTS hitl_events_item ON hitl_events (item_id)",
    "CREATE INDEX IF NOT EXISTS hitl_events_target ON hitl_events (target_event_id)",
    "CREATE TABLE IF NOT EXISTS hitl_items (item_id TEXT PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS hitl_claims (item_id TEXT NOT NULL, annotator TEXT NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (item_id, annotator))",
]
V1_META = {
    "schema_version": "1",
    "pool_fingerprint": "fp",
    "classes": '["neg", "pos"]',
    "n_items": "10",
}


def raw(spec: str, statements: list[tuple[str, dict]]) -> list[tuple]:
    """Run SQL on the store's database behind the package's back; rows of the last one."""
    if "://" not in spec:
        conn = sqlite3.connect(spec)
        try:
            rows = [conn.execute(sql, params).fetchall() for sql, params in statements]
            conn.commit()
            return rows[-1]
        finally:
            conn.close()
    engine = create_engine(spec)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(sql), params) for sql, params in statements]
            return list(results[-1].all()) if results[-1].returns_rows else []
    finally:
        engine.dispose()


def v1_events() -> list[LabelEvent]:
    label = event(
        "1",
        suggestion="pos",
        suggestion_shown=True,
        suggestion_confidence=0.8125,
        model_version=3,
        strategy="entropy",
        query_score=0.5,
        time_spent_ms=1234.5,
        audit=True,
        schema_version=1,
    )
    skip = event("2", action="skip", schema_version=1)
    undo = event("1", action="undo", target_event_id=label.event_id, schema_version=1)
    return [label, skip, undo]


def write_v1_store(spec: str, events: list[LabelEvent]) -> None:
    """A store as version 1 wrote it: its tables, its meta rows, its events."""
    rows = [
        {c: int(v) if isinstance(v, bool) else v for c, v in e.as_row().items()} for e in events
    ]
    columns = [c for c in rows[0] if c not in NEW_IN_V2]
    insert = (
        f"INSERT INTO hitl_events ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + c for c in columns)})"
    )
    meta = "INSERT INTO hitl_meta (key, value) VALUES (:key, :value)"
    raw(
        spec,
        [(sql, {}) for sql in (V1_POSTGRES if "://" in spec else V1_SQLITE)]
        + [(meta, {"key": key, "value": value}) for key, value in V1_META.items()]
        + [(insert, {c: row[c] for c in columns}) for row in rows],
    )


NEW_IN_V2 = ("selection_probability", "query_policy")
VERSION_SQL = [("SELECT value FROM hitl_meta WHERE key = 'schema_version'", {})]


def test_a_version_1_store_is_migrated_keeping_every_event(store_spec):
    old = v1_events()
    write_v1_store(store_spec, old)
    store = open_store(store_spec, "fp")
    assert raw(store_spec, VERSION_SQL) == [(str(SCHEMA_VERSION),)]
    store.bind("fp", CLASSES, 10)
    assert store.read_events() == old  # every field kept, the new ones None
    assert all(e.selection_probability is None and e.query_policy is None for e in old)
    new = event("3", selection_probability=0.125, query_policy="margin")
    assert store.append([new]) == 1
    store.close()
    again = open_store(store_spec, "fp")  # current now: nothing left to migrate
    assert again.read_events() == [*old, new]
    assert again.integrity_check() == "ok"
    again.close()


def test_stores_opening_an_old_store_at_once_migrate_it_once(store_spec):
    write_v1_store(store_spec, v1_events())
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(store_spec, "fp"), range(4)))
    for store in stores:
        assert len(store.read_events()) == 3
        store.close()
    assert raw(store_spec, VERSION_SQL) == [(str(SCHEMA_VERSION),)]


def test_a_store_from_a_newer_version_is_refused(store_spec):
    store = open_store(store_spec, "fp")
    store.bind("fp", CLASSES, 10)
    store.append([event("1")])
    store.close()
    newer = str(SCHEMA_VERSION + 1)
    raw(
        store_spec, [("UPDATE hitl_meta SET value = :v WHERE key = 'schema_version'", {"v": newer})]
    )
    with pytest.raises(StoreMismatchError, match=f"newer hitl_widgets \\(schema {newer}\\)"):
        open_store(store_spec, "fp")
    assert raw(store_spec, VERSION_SQL) == [(newer,)]
