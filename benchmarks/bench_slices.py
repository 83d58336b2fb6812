"""Slice discovery on planted error slices: does `Session.find_slices` find them, honestly?

Each run: a data set that loads offline, one error slice planted (the labels the
simulated annotator gives, and so the labels the model learns from, are flipped to
another class inside a random conjunction of 1-2 column values covering 2-10% of the
pool and at least `min_size` items), a fresh in-memory Session labeled through
`Session.simulate(budget)` with the default audit share (0.1) and `wait=True` (a refit
after every label, as a person's reading time allows), then
`find_slices(columns=<every column but the answer>, max_order=2, k=10, alpha=0.05)`.

Reported per data set over `--plants` runs (each with its own seed and its own slice):
- recall@1 / recall@5: the planted slice is ranked first / among the first five
  (an exact match of its {column: value}s);
- significant: it is declared worse than the rest (Holm, family-wise alpha 0.05);
- listed unjudged: it is listed as "not enough labels to judge";
- audit labels: the random audit labels the run collected (median), and those inside the
  planted slice (median): recall can only be as good as this allows.

Calibration (nothing planted), two ways:
- null columns: every run also slices "shadow" copies of the candidate columns, each
  permuted across rows independently of everything else, so every slice of them has
  exactly the error rate of the rest (the global null holds by construction); the share of
  runs declaring any shadow slice significant must be at most alpha plus Monte Carlo
  slack (3 binomial standard errors);
- unplanted: `--unplanted` runs with nothing planted, real columns. Real data sets have
  real weak spots (the loan set is built with a worse-served group B), so a declaration
  there may be a true finding; reported, not held to alpha.

Timing: one Session over a generated pool of `--timing-rows` rows and 20 candidate columns
(10 numeric, binned into quartiles, and 10 categorical with 3-8 values), ~10% audit labels
among 1000 labels; the median over 5 calls of `find_slices(columns="all")` (the column
binning is cached by the session after the first call, whose time is reported too), and
the `sliceline` package (0.3.0, numba not installed) on the same lattice and error vector.

Data sets: `hitl_widgets.datasets.loan_applications(3000)`; scikit-learn's bundled breast
cancer set (569 rows; the model reads the 10 "mean" measurements; "texture", "symmetry"
and "smoothness" grades are the "worst" measurements cut into named tertiles, and a
generated "clinic" (A-D) stands for a column nobody listed); palmerpenguins (333 complete
rows, species from the four measurements; island, sex and year are categorical) when
installed. sklearn's iris and wine are left out: at 150-178 rows a 2% slice holds 3-4
items, under any sensible min_size.

Run:  python benchmarks/bench_slices.py [--plants 100] [--unplanted 100] [--budget 100]
                                        [--audit-share 0.1] [--jobs 2] [--datasets ...]
      python benchmarks/bench_slices.py --quick        (10 runs each, no timing section)
Writes markdown to stdout and benchmarks/results/slices.md, numbers to slices.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from threadpoolctl import threadpool_limits

from hitl_widgets.core.analysis.slices import WORSE
from hitl_widgets.core.session import Session
from hitl_widgets.core.subgroups import subgroup_labels
from hitl_widgets.datasets import loan_applications

RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 0.05
SHADOW = "shadow_"
PLANT_SHARE = (0.02, 0.10)


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Dataset:
    name: str
    frame: pd.DataFrame  # features, candidate columns and "answer" (the true class)
    features: list[str]
    candidates: list[str]  # every column but the answer

    @property
    def classes(self) -> list[str]:
        return sorted(self.frame["answer"].unique().tolist())


def loan() -> Dataset:
    frame = loan_applications(3000).rename(columns={"truth": "answer"})
    features = ["income", "debt_ratio", "years_employed", "amount", "age"]
    return Dataset("loan_applications", frame, features, [*features, "group"])


def breast_cancer() -> Dataset:
    data = load_breast_cancer(as_frame=True)
    raw = data.frame
    features = [c for c in raw.columns if c.startswith("mean ")]
    frame = raw[features].copy()
    frame.columns = [c.removeprefix("mean ").replace(" ", "_") for c in features]
    for name in ("texture", "symmetry", "smoothness"):
        frame[f"{name}_grade"] = pd.qcut(raw[f"worst {name}"], 3, labels=["low", "mid", "high"])
        frame[f"{name}_grade"] = frame[f"{name}_grade"].astype(str)
    frame["clinic"] = np.random.default_rng(0).choice(list("ABCD"), len(frame))
    frame["answer"] = np.where(data.target == 1, "benign", "malignant")
    frame.index = pd.Index([f"bc{i:03d}" for i in range(len(frame))], name="case")
    model_columns = list(frame.columns[: len(features)])
    candidates = [c for c in frame.columns if c != "answer"]
    return Dataset("breast_cancer", frame, model_columns, candidates)


def penguins() -> Dataset | None:
    try:
        from palmerpenguins import load_penguins
    except ImportError:
        return None
    raw = load_penguins().dropna().reset_index(drop=True)
    frame = raw.rename(columns={"species": "answer"})
    frame["year"] = frame["year"].astype(str)
    frame.index = pd.Index([f"p{i:03d}" for i in range(len(frame))], name="penguin")
    features = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    return Dataset("palmerpenguins", frame, features, [*features, "island", "sex", "year"])


LOADERS = {"loan": loan, "breast_cancer": breast_cancer, "penguins": penguins}


@cache
def dataset(name: str) -> Dataset | None:
    return LOADERS[name]()


# ---------------------------------------------------------------------------- one run
def min_size(n: int) -> int:
    return max(10, int(np.ceil(0.01 * n)))  # find_slices' default


def plant(data: Dataset, rng: np.random.Generator) -> dict[str, str]:
    """A random conjunction of 1-2 column values covering 2-10% (and >= min_size) of the pool."""
    labels = {c: subgroup_labels(data.frame[c]).to_numpy() for c in data.candidates}
    n = len(data.frame)
    for _ in range(10_000):
        columns = rng.choice(data.candidates, size=rng.integers(1, 3), replace=False)
        where = {str(c): str(rng.choice(np.unique(labels[c]))) for c in columns}
        inside = np.logical_and.reduce([labels[c] == v for c, v in where.items()])
        if PLANT_SHARE[0] * n <= inside.sum() <= PLANT_SHARE[1] * n and inside.sum() >= min_size(n):
            return where
    raise RuntimeError(f"no conjunction of 2-10% found in {data.name}")


def pool_for(data: Dataset, where: dict[str, str] | None, seed: int) -> pd.DataFrame:
    """The pool with the oracle's labels (flipped inside the planted slice) and null columns."""
    frame = data.frame.copy()
    answer = frame.pop("answer").to_numpy(dtype=object)
    if where:
        inside = np.logical_and.reduce(
            [subgroup_labels(frame[c]).to_numpy() == v for c, v in where.items()]
        )
        classes = data.classes
        flipped = np.array([classes[(classes.index(a) + 1) % len(classes)] for a in answer])
        answer = np.where(inside, flipped, answer)
    rng = np.random.default_rng([seed, 7])
    for column in data.candidates:
        frame[SHADOW + column] = rng.permutation(frame[column].to_numpy())
    frame["oracle"] = answer
    return frame


def run(name: str, seed: int, planted: bool, budget: int, audit_share: float) -> dict[str, Any]:
    data = dataset(name)
    assert data is not None
    where = plant(data, np.random.default_rng(seed)) if planted else None
    frame = pool_for(data, where, seed)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = Session(
            frame,
            data.classes,
            features=data.features,
            truth="oracle",
            store=":memory:",
            random_state=seed,
            audit_share=audit_share,
            progress=False,
        )
        session.simulate(budget)
        table = session.find_slices(columns=data.candidates, alpha=ALPHA)
        shadow = session.find_slices(columns=[SHADOW + c for c in data.candidates], alpha=ALPHA)
    ranked = table[table["rank"].notna()]
    hit = ranked.index[[w == where for w in ranked["where"]]] if where else []
    listed = table[[w == where for w in table["where"]]] if where else table.iloc[:0]
    inside_audits = 0
    if where:
        snap = session.snapshot()
        audits = snap.labeled[snap.labeled["audit"]]
        member = np.logical_and.reduce(
            [session.subgroup_labels(c).to_numpy() == v for c, v in where.items()]
        )
        inside_audits = int(member[audits["position"].to_numpy()].sum())
    session.close()
    rank = int(ranked.loc[hit[0], "rank"]) if len(hit) else None
    return {
        "dataset": data.name,
        "seed": seed,
        "planted": where,
        "share": None if not where else float(listed["share"].iloc[0]) if len(listed) else None,
        "rank": rank,
        "significant": bool(len(listed) and listed["verdict"].iloc[0] == WORSE),
        "unjudged": bool(len(listed) and listed["rank"].isna().iloc[0]),
        "any_significant": bool(table["significant"].any()),
        "shadow_significant": bool(shadow["significant"].any()),
        "audit_labels": int(table.attrs["audit_labels"]),
        "audits_inside": inside_audits,
        "tried": int(table.attrs["tried"]),
    }


# ---------------------------------------------------------------------------- timing
def timing(rows: int, repeats: int = 5) -> dict[str, Any]:
    """find_slices on `rows` rows x 20 candidate columns, and the sliceline package."""
    rng = np.random.default_rng(0)
    numeric = {f"x{i}": rng.normal(size=rows) for i in range(10)}
    categorical = {
        f"c{i}": rng.choice([f"v{j}" for j in range(3 + i % 6)], rows) for i in range(10)
    }
    frame = pd.DataFrame(numeric | categorical)
    logit = frame["x0"] + 0.5 * frame["x1"] - 0.5 * frame["x2"]
    frame["oracle"] = np.where(logit + rng.normal(0, 0.8, rows) > 0, "yes", "no")
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = Session(
            frame,
            ["no", "yes"],
            features=list(numeric),
            truth="oracle",
            store=":memory:",
            random_state=0,
            progress=False,
        )
        session.simulate(1000, wait=False)
        session.wait()
        start = time.perf_counter()
        table = session.find_slices(columns="all")
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            session.find_slices(columns="all")
            times.append(time.perf_counter() - start)
        package = sliceline_time(session, table)
    return {
        "rows": rows,
        "columns": len(table.attrs["columns"]),
        "tried": table.attrs["tried"],
        "audit_labels": table.attrs["audit_labels"],
        "first_call_s": first,
        "median_s": float(np.median(times)),
        "sliceline_package_s": package,
    }


def sliceline_time(session: Session, table: pd.DataFrame) -> float | None:
    """The sliceline package on the same pool codes and the audit-scaled error vector."""
    try:
        from sliceline.slicefinder import Slicefinder
    except ImportError:
        return None
    columns = table.attrs["columns"]
    X = np.column_stack([session.subgroup_labels(c).to_numpy() for c in columns])
    snap = session.snapshot()
    audits = snap.labeled[snap.labeled["audit"] & snap.labeled["suggestion"].notna()]
    errors = np.zeros(len(X))
    errors[audits["position"].to_numpy()] = audits["disagree"].to_numpy() * len(X) / len(audits)
    finder = Slicefinder(alpha=0.95, k=10, max_l=2, min_sup=table.attrs["min_size"], verbose=False)
    start = time.perf_counter()
    finder.fit(X, errors)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------- report
def summarize(results: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(results)
    rows = []
    for name, group in frame.groupby("dataset", sort=False):
        planted = group[group["planted"].notna()]
        empty = group[group["planted"].isna()]
        n_null = len(group)  # every run slices the shadow columns
        slack = 3 * np.sqrt(ALPHA * (1 - ALPHA) / n_null)
        rank = planted["rank"]
        rows.append(
            {
                "data set": name,
                "plants": len(planted),
                "recall@1": float((rank == 1).mean()) if len(planted) else np.nan,
                "recall@5": float((rank <= 5).mean()) if len(planted) else np.nan,
                "significant": float(planted["significant"].mean()) if len(planted) else np.nan,
                "listed unjudged": float(planted["unjudged"].mean()) if len(planted) else np.nan,
                "audit labels (median)": float(group["audit_labels"].median()),
                "audits inside slice (median)": float(planted["audits_inside"].median()),
                "null columns: any significant": f"{group['shadow_significant'].mean():.3f} "
                f"of {n_null} (limit {ALPHA + slack:.3f})",
                "unplanted: any significant": (
                    f"{empty['any_significant'].mean():.3f} of {len(empty)}" if len(empty) else "-"
                ),
                "slices tried (median)": float(group["tried"].median()),
            }
        )
    return pd.DataFrame(rows)


def by_coverage(results: list[dict[str, Any]]) -> pd.DataFrame:
    """recall@5 by how many audit labels landed in the planted slice."""
    frame = pd.DataFrame([r for r in results if r["planted"]])
    bins = pd.cut(
        frame["audits_inside"], [-1, 2, 5, 9, 10_000], labels=["0-2", "3-5", "6-9", "10+"]
    )
    return (
        frame.assign(audits_inside=bins, hit5=frame["rank"] <= 5)
        .groupby(["dataset", "audits_inside"], observed=True)
        .agg(runs=("hit5", "size"), recall5=("hit5", "mean"), significant=("significant", "mean"))
        .reset_index()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plants", type=int, default=100)
    parser.add_argument("--unplanted", type=int, default=100)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--audit-share", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--datasets", default="loan,breast_cancer,penguins")
    parser.add_argument("--timing-rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10 runs each, no timing")
    parser.add_argument("--out", default="slices", help="file stem under results/")
    args = parser.parse_args()
    if args.quick:
        args.plants, args.unplanted, args.timing_rows = 10, 10, 0
    names = [n for n in args.datasets.split(",") if dataset(n) is not None]
    tasks = [
        (name, seed, planted, args.budget, args.audit_share)
        for name in names
        for planted, count in ((True, args.plants), (False, args.unplanted))
        for seed in range(count)
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, *zip(*tasks, strict=True), chunksize=4))
    elapsed = time.perf_counter() - started
    summary = summarize(results)
    coverage = by_coverage(results)
    timed = timing(args.timing_rows) if args.timing_rows else None
    lines = [
        f"# Slice discovery on planted slices (budget {args.budget} labels, audit share "
        f"{args.audit_share:g}, alpha {ALPHA:g}, Holm)",
        "",
        f"{platform.processor() or platform.machine()}, {args.jobs} job(s); runs took "
        f"{elapsed:.0f} s. Command: python benchmarks/bench_slices.py --plants {args.plants} "
        f"--unplanted {args.unplanted} --budget {args.budget} --audit-share {args.audit_share:g}",
        "",
        summary.to_markdown(index=False, floatfmt=".3f"),
        "",
        "recall@5 and power by audit labels inside the planted slice:",
        "",
        coverage.to_markdown(index=False, floatfmt=".2f"),
    ]
    if timed:
        lines += ["", "find_slices timing:", "", pd.DataFrame([timed]).to_markdown(index=False)]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text(text + "\n")
    payload = {"args": vars(args), "results": results, "timing": timed, "seconds": elapsed}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(payload, indent=1, default=str))


if __name__ == "__main__":
    main()
