"""One store test suite, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

import hitl_widgets as hw
from hitl_widgets.core.events import LabelEvent, new_event_id, utc_now
from hitl_widgets.core.store import open_store

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
