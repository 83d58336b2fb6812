"""Durability of the label store: crashes, concurrent writers, retries, resume, mismatches.

The crash and concurrency tests run real writer processes (tests/core/_workers/
label_writer.py) that print an acknowledgement only after `Session.submit` returned;
every acknowledged label must be in the store afterwards, exactly once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.core.events import new_event_id, utc_now
from hitl_widgets.core.store import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "_workers" / "label_writer.py"
CLASSES = ["neg", "pos"]


# ---------------------------------------------------------------------- helpers
def make_pool(n_rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n_rows, 4)), columns=["a", "b", "c", "d"])


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(ROOT / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Writer:
    """A label_writer.py child process whose stdout lines are collected by a thread."""

    def __init__(self, store: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(store), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=worker_env(),
            cwd=str(store.parent),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.acks: list[tuple[int, str]] = []
        self.ready_count: int | None = None
        self.done = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                break  # cut off by the kill: never acknowledged
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, prefix: str, timeout: float = 30.0) -> str:
        """Consume lines until one starts with `prefix` (recording ACKs on the way)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"worker did not print {prefix!r} in {timeout}s")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(
                    f"worker exited before {prefix!r}: rc={self.proc.wait()}, "
                    f"stderr={self.stderr()[-2000:]}"
                )
            self._record(line)
            if line.startswith(prefix):
                return line

    def _record(self, line: str) -> None:
        if line.startswith("ACK "):
            _, item, event_id = line.split()
            self.acks.append((int(item), event_id))
        elif line.startswith("READY "):
            self.ready_count = int(line.split()[1])
        elif line == "DONE":
            self.done = True

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def drain(self) -> None:
        """After the process ended: read every line it managed to write."""
        self._reader.join(timeout=30)
        while True:
            line = self.lines.get_nowait() if not self.lines.empty() else None
            if line is None:
                break
            self._record(line)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.drain()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        try:
            return self.proc.stderr.read()
        except ValueError:
            return ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def raw_rows(path: Path) -> list[tuple]:
    """(event_id, annotator, item_id, action, label) per stored event, read with plain sqlite3."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT event_id, annotator, item_id, action, label FROM hitl_events ORDER BY position"
        ).fetchall()
    finally:
        conn.close()


def raw_integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def expected_label(item_id: int) -> str:
    return CLASSES[int((item_id * 7) % 3 == 0)]  # same rule as the worker


# ------------------------------------------------------------------ crash test
@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_label(tmp_path: Path) -> None:
    """Kill a labeling process at random moments, resume on the same file, repeat."""
    store = tmp_path / "labels.sqlite"
    rng = random.Random(20240611)
    rounds, n_rows, prefetch = 9, 3000, 3
    acked: dict[int, str] = {}  # item id -> event id, over every round
    kills = 0
    # later workers import while the current one runs; each opens the store only after
    # the one before it was killed (it waits for "go"), so every round resumes after a crash
    workers = [
        Writer(store, "--rows", str(n_rows), "--skip-labeled") for _ in range(min(prefetch, rounds))
    ]
    try:
        for round_no in range(rounds):
            current = workers[round_no]
            current.expect("IMPORTED")
            current.go()
            current.expect("READY")
            # the resumed session sees at least every label acknowledged so far
            assert current.ready_count is not None
            assert current.ready_count >= len(acked), (round_no, current.ready_count, len(acked))
            if len(workers) < rounds:
                workers.append(Writer(store, "--rows", str(n_rows), "--skip-labeled"))
            time.sleep(rng.uniform(0.05, 0.6))
            if current.proc.poll() is None:
                current.kill()
                kills += 1
            else:
                current.proc.wait(timeout=30)
                current.drain()
            for item_id, event_id in current.acks:
                # a resumed worker skips labeled items: an acknowledged item is never redone
                assert item_id not in acked, f"round {round_no}: item {item_id} labeled twice"
                acked[item_id] = event_id
    finally:
        for worker in workers:
            worker.close()

    assert kills >= 8, f"only {kills} workers were killed mid-run"
    assert len(acked) > 50, "the workers acknowledged too few labels to test anything"

    assert raw_integrity(store) == "ok"
    rows = raw_rows(store)
    event_ids = Counter(row[0] for row in rows)
    assert not [e for e, n in event_ids.items() if n > 1], "duplicated event ids"
    stored = {row[0]: row for row in rows}
    for item_id, event_id in acked.items():
        assert event_id in stored, f"acknowledged label for item {item_id} was lost"
        _, annotator, stored_item, action, label = stored[event_id]
        assert (annotator, stored_item, action, label) == (
            "ana",
            str(item_id),
            "label",
            expected_label(item_id),
        )
    # at most one label event per item: resume never relabels (an item committed
    # but not acknowledged before the kill is also seen on resume and skipped)
    per_item = Counter(row[2] for row in rows if row[3] == "label")
    assert max(per_item.values()) == 1
    # committed-but-unacknowledged events: at most one per killed process
    assert len(rows) - len(acked) <= kills

    # the package's own view agrees
    check = SQLiteStore(store)
    try:
        assert check.integrity_check() == "ok"
        assert {e.event_id for e in check.read_events()} >= set(acked.values())
    finally:
        check.close()
    with hw.Session(make_pool(n_rows), classes=CLASSES, store=store, annotator="ana") as session:
        labels = session.labels
        assert set(acked) <= set(labels.index)
        for item_id, event_id in acked.items():
            assert labels.loc[item_id, "event_id"] == event_id
            assert labels.loc[item_id, "label"] == expected_label(item_id)


# ------------------------------------------------------------ concurrent writers
@pytest.mark.slow
def test_two_processes_write_the_same_store_at_once(tmp_path: Path) -> None:
    """Two annotators, two processes, one file, started together: nothing lost or doubled."""
    store = tmp_path / "shared.sqlite"
    n_rows, per_worker = 1000, 300
    assert not store.exists()  # both processes create it at the same moment
    ranges = {"ana": (0, per_worker), "bo": (per_worker, 2 * per_worker)}
    workers = {
        name: Writer(
            store, "--rows", str(n_rows), "--annotator", name, "--start", str(a), "--stop", str(b)
        )
        for name, (a, b) in ranges.items()
    }
    try:
        for worker in workers.values():
            worker.expect("IMPORTED")
        for worker in workers.values():  # both create, bind and write the new file together
            worker.go()
        for name, worker in workers.items():
            worker.expect("DONE", timeout=60)
            assert worker.proc.wait(timeout=30) == 0, worker.stderr()
            worker.drain()
            a, b = ranges[name]
            assert [item for item, _ in worker.acks] == list(range(a, b))
    finally:
        for worker in workers.values():
            worker.close()

    assert raw_integrity(store) == "ok"
    rows = raw_rows(store)
    assert len(rows) == 2 * per_worker
    by_event = Counter(row[0] for row in rows)
    assert set(by_event.values()) == {1}
    by_pair = Counter((row[1], row[2]) for row in rows)
    assert set(by_pair.values()) == {1}
    # the two really wrote at the same time: their commits interleave in the file
    order = [row[1] for row in rows]
    switches = sum(1 for x, y in itertools.pairwise(order) if x != y)
    assert switches > 2, f"the writers did not overlap ({switches} switches)"
    for name, worker in workers.items():
        acked_ids = {event_id for _, event_id in worker.acks}
        stored = {row[0] for row in rows if row[1] == name}
        assert stored == acked_ids, f"{name}: stored events differ from acknowledged ones"
        for item_id, event_id in worker.acks:
            assert (event_id, name, str(item_id), "label", expected_label(item_id)) in rows

    # a third session sees both annotators' labels
    with hw.Session(make_pool(n_rows), classes=CLASSES, store=store, annotator="cy") as session:
        labels = session.labels
        assert len(labels) == 2 * per_worker
        assert set(labels["annotator"]) == {"ana", "bo"}
        assert (labels.loc[range(per_worker), "annotator"] == "ana").all()


def test_opening_a_store_another_process_is_creating(tmp_path: Path) -> None:
    """What the second of two processes creating one new store at once runs into."""
    path = tmp_path / "fresh.sqlite"
    creator = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    creator.execute("BEGIN IMMEDIATE")  # as a store does, making its first table
    creator.execute("CREATE TABLE hitl_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    done = threading.Timer(0.3, lambda: creator.execute("COMMIT"))
    done.start()
    try:
        started = time.monotonic()
        store = SQLiteStore(path)  # must wait for the writer, as the busy timeout promises
        try:
            assert time.monotonic() - started < SQLiteStore.BUSY_TIMEOUT_MS / 1000
            store.bind("f" * 32, CLASSES, 3)
            assert store.append([make_event("1")]) == 1
        finally:
            store.close()
    finally:
        done.join()
        creator.close()


# ----------------------------------------------------------------- idempotency
def make_event(
    item_id: str = "3", label: str = "pos", event_id: str | None = None
) -> hw.LabelEvent:
    return hw.LabelEvent(
        event_id=event_id or new_event_id(),
        item_id=item_id,
        item_hash="00",
        annotator="ana",
        session_id="s1",
        seq=1,
        created_at=utc_now(),
        action="label",
        label=label,
    )


def test_store_append_is_idempotent_on_event_id(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite")
    try:
        first, second = make_event("1"), make_event("2")
        assert store.append([first]) == 1
        assert store.append([first]) == 0  # a retried append
        assert store.append([first, first, second]) == 1  # duplicates inside one batch too
        assert store.append([second]) == 0
        assert store.append([]) == 0
        # a different payload under an existing id does not replace the stored event
        assert store.append([replace(first, label="neg", seq=9)]) == 0
        assert store.get_event(first.event_id) == first
        assert store.get_event("no-such-id") is None
        events = store.read_events()
        assert events == [first, second]
        assert store.integrity_check() == "ok"
    finally:
        store.close()
    reopened = SQLiteStore(tmp_path / "s.sqlite")
    try:
        assert reopened.read_events() == [first, second]
    finally:
        reopened.close()


def test_submit_with_the_same_event_id_twice_yields_one_event(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    data = make_pool()
    with hw.Session(data, classes=CLASSES, store=path, annotator="ana", random_state=0) as s:
        first = s.submit(4, "pos", event_id="retry-1")
        again = s.submit(4, "pos", event_id="retry-1")
        assert first.event_id == again.event_id == "retry-1"
        s.submit(5, "neg")
        events = s.events
        assert (events["event_id"] == "retry-1").sum() == 1
        assert len(events) == 2
        assert s.labels.loc[4, "event_id"] == "retry-1"
    # a retry after a restart (the event is known from the store) is also absorbed
    with hw.Session(data, classes=CLASSES, store=path, annotator="ana", random_state=0) as s:
        s.submit(4, "pos", event_id="retry-1")
        assert len(s.events) == 2
        assert (s.events["event_id"] == "retry-1").sum() == 1


def test_a_retry_returns_the_stored_event_and_a_reused_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with hw.Session(make_pool(), classes=CLASSES, store=path, annotator="ana") as s:
        first = s.submit(4, "pos", event_id="X")
        retried = s.submit(4, "pos", event_id="X", time_spent_ms=99.0)
        assert retried == first  # the stored event, not a second version of it
        stored = [e for e in s.store.read_events() if e.event_id == "X"]
        assert stored == [first]
        # the same id for a different act is an error, and nothing is saved
        with pytest.raises(ValueError, match="already used by a different event"):
            s.submit(4, "neg", event_id="X")
        with pytest.raises(ValueError, match="already used by a different event"):
            s.submit(5, "pos", event_id="X")
        with pytest.raises(ValueError, match="already used by a different event"):
            s.skip(6, event_id="X")
        assert [e.event_id for e in s.store.read_events()] == ["X"]
        assert s.labels["label"].to_dict() == {4: "pos"}


def test_an_event_id_stored_by_another_session_is_not_acknowledged_twice(
    tmp_path: Path,
) -> None:
    """Two sessions opened before either wrote: the second learns of the id from the store."""
    path = tmp_path / "s.sqlite"
    data = make_pool()
    with (
        hw.Session(data, classes=CLASSES, store=path, annotator="ana") as a,
        hw.Session(data, classes=CLASSES, store=path, annotator="ana") as again,
        hw.Session(data, classes=CLASSES, store=path, annotator="bo") as b,
    ):
        saved = a.submit(4, "pos", event_id="shared")
        # a retry of the same act from another process/kernel: returns what is stored
        retried = again.submit(4, "pos", event_id="shared")
        assert retried == saved
        assert again.labels.loc[4, "event_id"] == "shared"
        # another act under the same id: refused, not acknowledged, not applied locally
        with pytest.raises(ValueError, match="already used by a different event"):
            b.submit(9, "neg", event_id="shared")
        assert 9 not in b.labels.index
        assert len(b.labels) == 0
    events = events_of(path)
    assert [(e.event_id, e.item_id, e.label) for e in events] == [("shared", "4", "pos")]
    with hw.Session(data, classes=CLASSES, store=path, annotator="cy") as c:
        assert c.labels["label"].to_dict() == {4: "pos"}


# ---------------------------------------------------------------------- resume
def test_resume_restores_labels_and_refits_at_once(tmp_path: Path) -> None:
    path = tmp_path / "resume.sqlite"
    submitted = {0: "neg", 1: "pos", 2: "pos", 3: "neg", 4: "pos", 5: "neg"}
    with hw.Session(make_pool(), classes=CLASSES, store=path, annotator="ana") as first:
        for item_id, label in submitted.items():
            first.submit(item_id, label)
        first.submit(3, "pos")  # a correction: the latest label wins
        first.skip(7)
        first.wait()
        before = first.labels
    submitted[3] = "pos"

    # a fresh DataFrame with the same content, as after a kernel restart
    with hw.Session(
        make_pool(), classes=CLASSES, store=path, annotator="ana", random_state=1
    ) as second:
        labels = second.labels
        assert labels["label"].to_dict() == submitted
        pd.testing.assert_frame_equal(labels.sort_index(), before.sort_index())
        assert second.status.n_labeled == len(submitted)
        assert second.status.n_skipped == 1
        assert second.wait(timeout=30)
        assert second.model_ is not None  # refit on the stored labels without a new submit
        assert second.fit_state == "ready"
        assert set(second.model_.classes_) == set(CLASSES)
        queued = second.queue(20)
        assert not set(queued.index) & set(submitted)
        assert queued["skipped"].tolist() == [False] * 20  # item 7 goes behind everything
        # the undo stack is restored too: the latest undoable action was the skip
        assert second.undo() == 7
        assert second.undo() == 3
        assert second.labels.loc[3, "label"] == "neg"
    assert len(events_of(path)) == len(submitted) + 1 + 1 + 2


def events_of(path: Path) -> list[hw.LabelEvent]:
    store = SQLiteStore(path)
    try:
        return store.read_events()
    finally:
        store.close()


def meta_of(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, value FROM hitl_meta").fetchall())
    finally:
        conn.close()


# -------------------------------------------------------------------- mismatch
@pytest.fixture
def saved_store(tmp_path: Path) -> Path:
    path = tmp_path / "bound.sqlite"
    with hw.Session(make_pool(), classes=CLASSES, store=path, annotator="ana") as s:
        for item_id in range(6):
            s.submit(item_id, CLASSES[item_id % 2])
    return path


@pytest.mark.parametrize(
    ("classes", "pool", "fragment"),
    [
        (["neg", "pos", "neutral"], make_pool(), "classes"),
        (["pos", "neg"], make_pool(), "classes"),
        (CLASSES, make_pool(seed=1), "different pool"),
        (CLASSES, make_pool(n_rows=201), "different pool"),
        (CLASSES, make_pool().rename(columns={"d": "e"}), "different pool"),
    ],
    ids=["more-classes", "reordered-classes", "other-data", "more-rows", "renamed-column"],
)
def test_mismatched_store_raises_and_changes_nothing(
    saved_store: Path, classes: list[str], pool: pd.DataFrame, fragment: str
) -> None:
    events_before = events_of(saved_store)
    meta_before = meta_of(saved_store)
    with pytest.raises(hw.StoreMismatchError, match=fragment) as info:
        hw.Session(pool, classes=classes, store=saved_store, annotator="ana")
    message = str(info.value)
    assert str(saved_store.resolve()) in message  # names the file
    assert "nothing was changed" in message
    assert isinstance(info.value, hw.StoreError)
    assert events_of(saved_store) == events_before
    assert meta_of(saved_store) == meta_before
    assert json.loads(meta_before["classes"]) == CLASSES
    # the right pool and classes still open it
    with hw.Session(make_pool(), classes=CLASSES, store=saved_store, annotator="ana") as s:
        assert len(s.labels) == 6


def test_mismatch_error_names_the_expected_classes(saved_store: Path) -> None:
    with pytest.raises(hw.StoreMismatchError) as info:
        hw.Session(make_pool(), classes=["cat", "dog"], store=saved_store)
    assert "['neg', 'pos']" in str(info.value)
    assert "['cat', 'dog']" in str(info.value)


# ------------------------------------------------------------------- bad input
def test_bad_input_raises_clearly_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    data = make_pool()
    with hw.Session(data, classes=CLASSES, store=path, annotator="ana") as s:
        saved = {i: CLASSES[i % 2] for i in range(8)}
        for item_id, label in saved.items():
            s.submit(item_id, label)
        n_events = len(s.events)

        bad_calls = [
            (lambda: s.submit(20, "maybe"), ValueError, "not one of the classes"),
            (lambda: s.submit(20, None), ValueError, "not one of the classes"),
            (lambda: s.submit(20, True), ValueError, "not one of the classes"),
            (lambda: s.submit(20, ["pos"]), ValueError, "not one of the classes"),
            (lambda: s.submit(20, "pos\udcff"), ValueError, "not one of the classes"),
            (lambda: s.submit(10**9, "pos"), KeyError, "not in the pool"),
            (lambda: s.submit("3", "pos"), KeyError, "not in the pool"),
            (lambda: s.submit(None, "pos"), KeyError, "not in the pool"),
            (lambda: s.submit([3], "pos"), KeyError, "not in the pool"),
            (lambda: s.submit(slice(0, 3), "pos"), KeyError, "item id"),
            (lambda: s.submit(np.nan, "pos"), KeyError, "not in the pool"),
            (lambda: s.submit(20, "pos", event_id="e-\udcff"), ValueError, "UTF-8"),
            (lambda: s.submit(20, "pos", event_id="e\x00"), ValueError, "NUL"),
            (lambda: s.submit(20, "pos", event_id=42), TypeError, "event_id must be a string"),
            (lambda: s.submit(0, "pos", event_id="\ud800"), ValueError, "event_id"),
            (lambda: s.skip(10**9), KeyError, "not in the pool"),
            (lambda: s.skip(0), ValueError, "already labeled"),
        ]
        for call, kind, fragment in bad_calls:
            with pytest.raises(kind, match=fragment):
                call()
        assert len(s.events) == n_events, "a rejected call wrote an event"
        assert s.labels["label"].to_dict() == saved
        assert s.store.integrity_check() == "ok"
        # the session keeps working afterwards
        s.submit(20, "pos")
        saved[20] = "pos"

    for annotator in ["\udcff", "ana\ud800", "a\x00b"]:
        with pytest.raises(ValueError, match="annotator"):
            hw.Session(data, classes=CLASSES, store=path, annotator=annotator)
    with pytest.raises(ValueError, match="class label"):
        hw.Session(data, classes=["neg", "p\udcffos"], store=tmp_path / "other.sqlite")

    with hw.Session(data, classes=CLASSES, store=path, annotator="ana") as s:
        assert s.labels["label"].to_dict() == saved
        assert len(s.events) == n_events + 1
    assert raw_integrity(path) == "ok"
