"""Bytes sent per dashboard redraw at 10k vs 1M rows, with the same labels.

Every chart draws aggregated tables, so the payload should not grow with the pool.
Measured as the JSON size of every chart spec the dashboard sends on a redraw, and the
time to build them (metrics + Altair), for a numeric pool of 20 features with a
categorical and a numeric (binned) subgroup column.

Run: python benchmarks/bench_payload.py [--labels 60]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

import hitl_widgets as hw
from hitl_widgets.charts import dashboard_charts
from hitl_widgets.charts.routing import routing_chart

N_FEATURES = 20


def pool(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, N_FEATURES))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_FEATURES)])
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=n)
    frame["age"] = rng.integers(18, 80, size=n)
    frame["truth"] = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "pos", "neg")
    return frame


def measure(n: int, labels: int) -> tuple[int, float]:
    data = pool(n)
    s = hw.Session(
        data,
        classes=["neg", "pos"],
        features=[f"x{i}" for i in range(N_FEATURES)],
        subgroups=["region", "age"],
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.2,
    )
    s.simulate(labels)
    s.wait()
    start = time.perf_counter()
    charts = dashboard_charts(s)
    charts["routing"] = routing_chart(s.routing_curve(), 0.9)
    size = sum(len(json.dumps(chart.to_dict())) for chart in charts.values())
    return size, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=60)
    args = parser.parse_args()
    rows = [(n, *measure(n, args.labels)) for n in (10_000, 1_000_000)]
    print("| pool rows | bytes per redraw | build time (s) |")
    print("|---:|---:|---:|")
    for n, size, seconds in rows:
        print(f"| {n:,} | {size:,} | {seconds:.2f} |")
    print(f"\nratio 1M / 10k: {rows[1][1] / rows[0][1]:.3f}")


if __name__ == "__main__":
    main()
