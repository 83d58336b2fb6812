"""Past one machine's memory: a Session over a Parquet dataset on Dask, vs 1M rows in memory.

Writes a Parquet dataset of N rows x 20 float features (plus an integer id, a region
and a truth column) with Dask, starts a LocalCluster (2 worker processes, 1 thread each:
this machine's cores), and opens `hw.Session(dd.read_parquet(...), ids=None)` on it; the
same figures for an in-memory Session of --memory-rows rows, each in its own process
(clean peak memory).

Reported: open time (Session() to ready, first fit included), the client process's peak
resident memory (the workers hold the features), time from `submit` returning to the
next item served by `queue(10)` (the queue never waits: it serves the newest ranking
there is), time from `submit` returning to a `queue(10)` ranked by a model that knows
that label (on a Dask pool: the fit plus its ranking of the 20,000-row candidate
sample; in memory: the fit plus the full rescoring), and the time of one full refit
(fit on the labels, rescore every row on the workers, bring the scores back, rank the
head).

Run: python benchmarks/bench_scale.py [--rows 10000000] [--memory-rows 1000000] [--labels 20]
Writes markdown to stdout and JSON to benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES = [f"x{i}" for i in range(20)]
SEED_LABELS = 10


def truth_of(X: np.ndarray) -> np.ndarray:
    w = np.linspace(-1, 1, X.shape[1])
    return np.where(X @ w > 0, "pos", "neg")


def write_parquet(path: Path, rows: int, partitions: int) -> None:
    """The dataset, written partition by partition (never whole in one process)."""
    import dask
    import dask.dataframe as dd

    per = rows // partitions

    def part(i: int) -> pd.DataFrame:
        rng = np.random.default_rng(i)
        X = rng.normal(size=(per, len(FEATURES)))
        frame = pd.DataFrame(X, columns=FEATURES)
        frame["region"] = rng.choice(["north", "south", "east", "west"], per)
        frame["truth"] = truth_of(X)
        frame.index = pd.RangeIndex(i * per, (i + 1) * per, name="row")
        return frame

    parts = [dask.delayed(part)(i) for i in range(partitions)]
    divisions = [i * per for i in range(partitions)] + [rows - 1]
    dd.from_delayed(parts, meta=part(0).iloc[:0], divisions=divisions).to_parquet(path)


def run(session_of, labels: int) -> dict[str, float]:
    started = time.perf_counter()
    s = session_of()
    truth = s.data["truth"]
    neg, pos = truth.index[truth == "neg"][:5], truth.index[truth == "pos"][:5]
    for item in [*neg, *pos]:
        s.submit(item, truth[item])
    s.wait()
    opened = time.perf_counter() - started
    served, ranked, refits = [], [], []
    for _ in range(labels):
        item = s.queue(1).index[0]
        newest = s.status.newest_model
        s.submit(item, truth[item])
        start = time.perf_counter()
        s.queue(10)  # served at once, by the newest ranking there is
        served.append(time.perf_counter() - start)
        while s.status.newest_model == newest:  # until a model that knows this label ranks
            time.sleep(0.001)
        s.queue(10)
        ranked.append(time.perf_counter() - start)
        s.wait()
        refits.append(s.history_[-1].seconds)
    s.close()
    return {
        "open_s": opened,
        "submit_to_next_item_ms": 1e3 * statistics.median(served),
        "submit_to_ranked_by_it_ms": 1e3 * statistics.median(ranked),
        "full_refit_s": statistics.median(refits),
        "client_peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def open_session(data: Any, **extra: Any) -> Any:
    """The same Session on either pool: 20 features, a subgroup, the truth column."""
    import hitl_widgets as hw

    return hw.Session(
        data,
        classes=["neg", "pos"],
        features=FEATURES,
        subgroups="region",
        truth="truth",
        store=":memory:",
        random_state=0,
        progress=False,
        **extra,
    )


def dask_run(path: Path, labels: int) -> dict[str, float]:
    import dask.dataframe as dd
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        return run(lambda: open_session(dd.read_parquet(path), client=client), labels)
    finally:
        client.close()
        cluster.close()


def memory_run(rows: int, labels: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, len(FEATURES)))
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["region"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["truth"] = truth_of(X)
    del X

    return run(lambda: open_session(frame), labels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=40)
    parser.add_argument("--one", choices=["dask", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "scale.json"
    )
    args = parser.parse_args()
    if args.one == "dask":
        print(json.dumps(dask_run(args.path, args.labels)))
        return
    if args.one == "memory":
        print(json.dumps(memory_run(args.memory_rows, args.labels)))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pool.parquet"
        started = time.perf_counter()
        write_parquet(path, args.rows, args.partitions)
        written = time.perf_counter() - started
        for kind, extra in (("dask", ["--path", str(path)]), ("memory", [])):
            command = [sys.executable, __file__, "--one", kind, "--labels", str(args.labels)]
            command += ["--rows", str(args.rows), "--memory-rows", str(args.memory_rows)]
            out = subprocess.run(command + extra, capture_output=True, text=True, check=True)
            results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"Parquet dataset of {args.rows:,} rows x {len(FEATURES)} features written in "
        f"{written:.0f} s ({args.partitions} partitions); {args.labels} labels each.\n"
    )
    print(
        "| pool | open (s) | client peak (GiB) | submit -> next item (ms) | "
        "submit -> queue ranked by a model with that label (ms) | full refit (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for kind, rows in (("dask", args.rows), ("memory", args.memory_rows)):
        r = results[kind]
        where = "Dask, 2 local workers" if kind == "dask" else "in memory"
        print(
            f"| {rows:,} rows, {where} | {r['open_s']:.1f} | {r['client_peak_gib']:.2f} | "
            f"{r['submit_to_next_item_ms']:.1f} | {r['submit_to_ranked_by_it_ms']:.0f} | "
            f"{r['full_refit_s']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": args.rows, **results}, indent=1))


if __name__ == "__main__":
    main()
