"""A labeling process for the durability tests: submits labels and acknowledges each one.

Protocol on stdout (one line each, flushed):
  IMPORTED            the package is imported and the pool is built
  READY <n>           the Session is open; <n> items were already labeled (resumed)
  ACK <id> <event>    printed only after `Session.submit` returned for item <id>
  DONE                every item of this worker's range was labeled

The worker waits for one line on stdin after IMPORTED before it opens the store, so a
test can start several workers at the same moment (or prepare the next one early).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

import hitl_widgets as hw

CLASSES = ["neg", "pos"]


def make_pool(n_rows: int) -> pd.DataFrame:
    """The same DataFrame in every process, so every process sees the same fingerprint."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(n_rows, 4)), columns=["a", "b", "c", "d"])


def label_for(item_id: int) -> str:
    return CLASSES[int((item_id * 7) % 3 == 0)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--annotator", default="ana")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, default=None)
    parser.add_argument("--skip-labeled", action="store_true")
    args = parser.parse_args()

    data = make_pool(args.rows)
    print("IMPORTED", flush=True)
    if not sys.stdin.readline():
        return  # the parent went away before starting us
    session = hw.Session(
        data,
        classes=CLASSES,
        store=args.store,
        annotator=args.annotator,
        random_state=0,
    )
    labeled = set(session.labels.index.tolist())
    print(f"READY {len(labeled)}", flush=True)
    stop = args.rows if args.stop is None else args.stop
    for item_id in range(args.start, stop):
        if args.skip_labeled and item_id in labeled:
            continue
        event = session.submit(item_id, label_for(item_id))
        print(f"ACK {item_id} {event.event_id}", flush=True)
    print("DONE", flush=True)
    session.close()


if __name__ == "__main__":
    main()
