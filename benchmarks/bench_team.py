"""Team throughput: 4 annotator processes labeling at once, per store.

Each process claims items (atomically) and submits labels through a real Session, with
its background refits running, exactly as the concurrency test does; throughput is
acknowledged labels per second across all processes. Also: durable submit latency of
one process per store. PostgreSQL is a throw-away local server (tests/pg_server.py).

Run: python benchmarks/bench_team.py [--labels 500] [--annotators 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "core" / "_workers"))
from pg_server import fresh_database, start_postgres  # noqa: E402
from team_worker import team_pool  # noqa: E402

import hitl_widgets as hw  # noqa: E402

WORKER = ROOT / "tests" / "core" / "_workers" / "team_worker.py"


def throughput(store: str, annotators: int, labels: int, pool_size: int) -> float:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), store, f"a{i}", str(labels), "1", str(pool_size)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        for i in range(annotators)
    ]
    for proc in procs:
        proc.stdout.readline()  # "ready": imports and session set-up are not timed
    started = time.perf_counter()
    acked = 0
    for proc in procs:
        acked += sum(line.startswith("ack ") for line in proc.stdout.read().splitlines())
        proc.wait()
    return acked / (time.perf_counter() - started)


def latency(store: str, n: int) -> tuple[float, float]:
    data = team_pool(2000)
    s = hw.Session(data, classes=["neg", "pos"], store=store, annotator="solo", audit_share=0)
    times = []
    for item in data.index[:n]:
        start = time.perf_counter()
        s.submit(item, data.loc[item, "truth"])
        times.append(time.perf_counter() - start)
    s.wait()
    s.close()
    ms = np.array(times) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 99))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--annotators", type=int, default=4)
    args = parser.parse_args()
    pool_size = args.labels * args.annotators * 2
    server, stop = start_postgres()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stores = {
                "SQLite (WAL, synchronous=FULL)": (
                    str(Path(tmp) / "t.sqlite"),
                    str(Path(tmp) / "l.sqlite"),
                ),
                "PostgreSQL (synchronous_commit=on)": (
                    fresh_database(server, "bench_t"),
                    fresh_database(server, "bench_l"),
                ),
            }
            for name, (team_store, solo_store) in stores.items():
                rate = throughput(team_store, args.annotators, args.labels, pool_size)
                median, p99 = latency(solo_store, 300)
                rows.append((name, rate, median, p99))
    finally:
        stop()
    print(f"| store | {args.annotators} annotators, labels/s | submit median (ms) | p99 (ms) |")
    print("|---|---:|---:|---:|")
    for name, rate, median, p99 in rows:
        print(f"| {name} | {rate:.0f} | {median:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
