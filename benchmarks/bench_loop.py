"""Per-submission cycle of a Session vs a lean reference loop, in the same run.

Cycle = submit (durable SQLite commit) + background refit + rescore of the whole pool
+ next queue. The reference does the minimum any active-learning loop must do, with no
store: clone-fit on the labeled rows, predict_proba on the pool, argpartition.
Also: one memory pass over X (X @ w) at each size, the submit acknowledgement latency
(median/p99) while refits run, and peak memory at 1M rows relative to X.

Run: python benchmarks/bench_loop.py [--sizes 1000 10000 100000 1000000] [--steps 30]
Writes a markdown table to stdout and JSON to benchmarks/results/loop.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hitl_widgets as hw

N_FEATURES = 20
SEED_LABELS = 10


def make_pool(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, N_FEATURES))
    w = rng.standard_normal(N_FEATURES)
    y = np.where(X @ w + 0.5 * rng.standard_normal(n) > 0, "pos", "neg")
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(N_FEATURES)]), y


def model() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def seed_positions(y: np.ndarray) -> list[int]:
    neg, pos = np.flatnonzero(y == "neg"), np.flatnonzero(y == "pos")
    return [*neg[: SEED_LABELS // 2], *pos[: SEED_LABELS // 2]]


def reference_cycles(X: np.ndarray, y: np.ndarray, steps: int) -> list[float]:
    """The lean loop: the same work with no store, no thread and no bookkeeping."""
    labeled = np.zeros(len(X), dtype=bool)
    labeled[seed_positions(y)] = True
    base = model()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fitted = clone(base).fit(X[labeled], y[labeled])
        proba = fitted.predict_proba(X)
        margin = 1 - np.abs(proba[:, 0] - proba[:, 1])
        margin[labeled] = -np.inf
        pick = np.argpartition(-margin, 10)[:10]
        pick = pick[np.argsort(-margin[pick])][0]
        times.append(time.perf_counter() - start)
        labeled[pick] = True
    return times


def session_cycles(df: pd.DataFrame, y: np.ndarray, steps: int, store: Path) -> list[float]:
    s = hw.Session(
        df, classes=["neg", "pos"], model=model(), store=store, random_state=0, annotator="bench"
    )
    for position in seed_positions(y):
        s.submit(df.index[position], y[position])
    s.wait()
    item = s.queue(10).index[0]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        s.submit(item, y[df.index.get_loc(item)])
        s.wait()
        item = s.queue(10).index[0]
        times.append(time.perf_counter() - start)
    s.close()
    return times


def memory_pass(X: np.ndarray) -> float:
    w = np.ones(X.shape[1])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        X @ w
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def submit_latency(n: int, labels: int, store: Path) -> dict[str, float]:
    """Acknowledgement latency of durable submits while refits run in the background."""
    df, y = make_pool(n, seed=1)
    s = hw.Session(df, classes=["neg", "pos"], model=model(), store=store, random_state=0)
    times = []
    for position in range(labels):
        start = time.perf_counter()
        s.submit(df.index[position], y[position])
        times.append(time.perf_counter() - start)
    s.wait()
    s.close()
    times_ms = np.array(times) * 1e3
    return {"median_ms": float(np.median(times_ms)), "p99_ms": float(np.percentile(times_ms, 99))}


def peak_memory(n: int, steps: int, store: Path) -> dict[str, float]:
    """Peak bytes allocated by building a Session and running cycles, relative to X."""
    df, y = make_pool(n, seed=2)
    x_bytes = n * N_FEATURES * 8
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    session_cycles(df, y, steps, store)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"x_mb": x_bytes / 2**20, "peak_mb": peak / 2**20, "peak_over_x": peak / x_bytes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "loop.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            df, y = make_pool(n)
            steps = args.steps if n < 1_000_000 else max(5, args.steps // 3)
            ours = statistics.median(session_cycles(df, y, steps, Path(tmp) / f"c{n}.db"))
            ref = statistics.median(reference_cycles(df.to_numpy(), y, steps))
            one_pass = memory_pass(df.to_numpy())
            rows.append(
                {
                    "rows": n,
                    "session_ms": ours * 1e3,
                    "reference_ms": ref * 1e3,
                    "ratio": ours / ref,
                    "memory_pass_ms": one_pass * 1e3,
                    "over_memory_pass": ours / one_pass,
                }
            )
        latency = submit_latency(10_000, 300, Path(tmp) / "latency.db")
        memory = peak_memory(max(args.sizes), 5, Path(tmp) / "memory.db")
    print("| rows | session cycle (ms) | reference (ms) | ratio | X @ w pass (ms) | cycle / pass |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['rows']:,} | {r['session_ms']:.1f} | {r['reference_ms']:.1f} | "
            f"{r['ratio']:.2f} | {r['memory_pass_ms']:.1f} | {r['over_memory_pass']:.1f} |"
        )
    print(
        f"\nsubmit acknowledged (durable, refits running): median {latency['median_ms']:.2f} ms, "
        f"p99 {latency['p99_ms']:.2f} ms"
    )
    print(
        f"peak memory at {max(args.sizes):,} rows: {memory['peak_mb']:.0f} MB = "
        f"{memory['peak_over_x']:.2f} x the raw feature array ({memory['x_mb']:.0f} MB)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"cycles": rows, "submit_latency": latency, "peak_memory": memory}, indent=2)
    )


if __name__ == "__main__":
    main()
