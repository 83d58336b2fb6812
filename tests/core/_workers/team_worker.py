"""One annotator process: claims items and labels them, printing each acknowledged id.

A line "ack <id>" is printed (and flushed) only after `submit` returned, i.e. after the
store committed the label: the parent may kill this process at any moment and then
checks that every acknowledged label is in the store.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

import hitl_widgets as hw


def team_pool(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["truth"] = np.where(frame["a"] + frame["b"] > 0, "pos", "neg")
    return frame


def main() -> None:
    store, annotator, labels, overlap, pool_size = sys.argv[1:6]
    data = team_pool(int(pool_size))
    session = hw.Session(
        data,
        classes=["neg", "pos"],
        store=store,
        annotator=annotator,
        overlap=int(overlap),
        audit_share=0,
        random_state=0,
    )
    print("ready", flush=True)
    done = 0
    while done < int(labels):
        claimed = session.claim(5)
        if claimed.empty:
            break
        for item in claimed.index:
            session.submit(item, data.loc[item, "truth"])
            print(f"ack {item}", flush=True)
            done += 1
            if done >= int(labels):
                break
    session.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
