"""Are the estimates honest? Simulated labeling sessions whose truth is known.

Each session is a real in-memory `Session` labeled by the simulated oracle
(`Session.simulate`, the truth column answers), margin uncertainty sampling, the default
audit_share 0.1 and the stochastic query mode `explore` (default 0.5 here: half the
slots drawn at random in proportion to the square root of the margin score). Every data
set gets its own stratified 75/25 split per session: the pool is labeled, the held-out
quarter measures the model for the stopping check and the learning curves.

At each checkpoint (a number of labels) the benchmark compares:
- `Session.estimate()` with the true accuracy of the current model on the unlabeled
  items (from the truth column): bias (mean error, with its Monte Carlo standard error),
  coverage of the 95% interval, and its width against the audit-only Wilson interval
  at the same number of labels (the audit labels, the model's suggestion before each
  label; what `analysis.metrics` reports as "random audit"); and in how many sessions
  a coverage of 93-97% is reachable at all by any interval, for a binomial count at the
  session's effective sample size and true accuracy (`band_reachable`);
- `Session.estimate(by=...)`: coverage per subgroup (rows with a number only);
- `analysis.routing.guaranteed_thresholds(max_error, delta)`: when a threshold is
  guaranteed, is the true error of the auto-accepted unlabeled items above max_error?
  That may happen in at most delta of the sessions (plus Monte Carlo slack). Reported:
  the share of sessions with a guaranteed threshold, the violation rate, the automation.
The stopping meter (`Session.stopping()`) is read every --stop-every labels up to the
data set's label budget; at its first "stop" (strict) and its first "stop" or "could
stop" (lenient) the session labels on to twice as many labels, and the model at the stop
is compared with the model at twice the labels on every item neither was trained on (the
held-out quarter and the pool items still unlabeled): the loss must be at most one
accuracy point in at least 90% of sessions. Labels saved: against the label budget.

Label efficiency of the stochastic mode: paired sessions (same split, seed and oracle)
with explore=0 (deterministic top-k) give the area under the held-out learning curve
(AULC, mean accuracy at every 10 labels) to compare with the explore sessions; they also
report the estimate's coverage and width in the default mode.

Data sets (all offline): sklearn breast cancer (subgroups: quartiles of "mean radius"),
sklearn digits as a binary task "digit >= 5" (subgroups: quartiles of the ink, the sum of
the pixels, kept out of the features), `hitl_widgets.datasets.loan_applications(3000)`
(generated; subgroups: the sensitive column "group"), sklearn wine (3 classes; tiny, and
so easy that the model is right on every unlabeled item in most sessions).

Run:  python benchmarks/bench_estimates.py [--sessions 200] [--jobs 2] [--explore 0.5]
      python benchmarks/bench_estimates.py --quick          (20 sessions per data set)
      python benchmarks/bench_estimates.py --summarize benchmarks/results/estimates.json
                                      (the tables again from saved sessions, none rerun)
Writes markdown to stdout and benchmarks/results/estimates.md, numbers to
benchmarks/results/estimates.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from hitl_widgets.core.analysis.intervals import wilson_interval
from hitl_widgets.core.analysis.routing import guaranteed_thresholds
from hitl_widgets.core.session import Session
from hitl_widgets.datasets import loan_applications

RESULTS = Path(__file__).resolve().parent / "results"
STEP = 10  # labels between learning-curve points
MAX_ERROR, DELTA = 0.1, 0.1  # the routing guarantee checked
LOSS = 0.01  # stopping: at most one accuracy point lost against twice the labels
BAND = (0.93, 0.97)  # the coverage the issue asks of a 95% interval
DOUBLING_FROM = (30, 40, 60, 80, 120)  # label counts whose doubling the learning curves judge


@dataclass(frozen=True)
class Spec:
    name: str
    classes: list
    features: list[str]
    subgroup: str
    checkpoints: tuple[int, ...]  # labels at which estimates are checked
    stop_max: int  # the label budget: the meter is read up to here
    note: str


@cache
def load(name: str) -> tuple[pd.DataFrame, Spec]:
    """(frame with a "truth" column, spec) of one data set."""
    if name == "breast_cancer":
        bunch = load_breast_cancer()
        columns = [str(c) for c in bunch.feature_names]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame["truth"] = bunch.target.astype(int)
        spec = Spec(name, [0, 1], columns, "mean radius", (40, 80), 160, "sklearn, 569 rows")
    elif name == "digits":
        bunch = load_digits()
        columns = [f"px{i:02d}" for i in range(bunch.data.shape[1])]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame["ink"] = bunch.data.sum(axis=1)
        frame["truth"] = (bunch.target >= 5).astype(int)
        spec = Spec(name, [0, 1], columns, "ink", (100, 200), 240, "sklearn, 1797 rows, >= 5")
    elif name == "loans":
        frame = loan_applications(3000).reset_index(drop=True)
        columns = ["income", "debt_ratio", "years_employed", "amount", "age"]
        spec = Spec(
            name, ["defaulted", "repaid"], columns, "group", (100, 200), 240, "generated, 3000"
        )
    elif name == "wine":
        bunch = load_wine()
        columns = [str(c) for c in bunch.feature_names]
        frame = pd.DataFrame(bunch.data, columns=columns)
        frame["truth"] = bunch.target.astype(int)
        spec = Spec(name, [0, 1, 2], columns, "alcohol", (20, 40), 60, "sklearn, 178 rows")
    else:
        raise ValueError(f"unknown data set {name!r}")
    frame.index = pd.Index([f"{name[0]}{i:05d}" for i in range(len(frame))], name="id")
    return frame, spec


DATASETS = ("breast_cancer", "digits", "loans", "wine")


# ---------------------------------------------------------------------------- one session
def truth_accuracy(s: Session, members: np.ndarray | None = None) -> float:
    """The current model's accuracy on the unlabeled items (in `members`), from the truth."""
    snap = s.snapshot()
    unlabeled = ~snap.decided if members is None else ~snap.decided & members
    right = snap.fit.pool.suggestion[unlabeled] == snap.truth_codes[unlabeled]
    return float(right.mean()) if unlabeled.any() else float("nan")


def checkpoint(s: Session, spec: Spec) -> dict[str, Any]:
    """Estimate, subgroup estimates, audit-only Wilson and the routing guarantee now."""
    snap = s.snapshot()
    row = s.estimate().iloc[0]
    audits = snap.labeled[snap.labeled["audit"]]
    hits = int((audits["suggestion"] == audits["label"]).sum())
    low, high = wilson_interval(hits, len(audits))
    labels = snap.subgroup_labels(spec.subgroup).to_numpy()
    groups = []
    for _, g in s.estimate(by=spec.subgroup).iterrows():
        truth = truth_accuracy(s, labels == g["subgroup"])
        groups.append((g["subgroup"], g["estimate"], g["low"], g["high"], truth))
    guarantee = guaranteed_thresholds(snap, MAX_ERROR, DELTA).iloc[0]
    realised = np.nan
    if not np.isnan(guarantee["threshold"]):
        auto = ~snap.decided & (snap.fit.pool.confidence >= guarantee["threshold"])
        if auto.any():
            realised = float(np.mean(snap.fit.pool.suggestion[auto] != snap.truth_codes[auto]))
    return {
        "n": snap.n_labeled,
        "truth": truth_accuracy(s),
        "estimate": float(row["estimate"]),
        "unclipped": float(row["unclipped"]),
        "low": float(row["low"]),
        "high": float(row["high"]),
        "n_eff": float(row["n_eff"]),
        "drawn": int(row["n_labels"]),
        "audits": len(audits),
        "wilson": float(high - low),
        "groups": groups,
        "threshold": float(guarantee["threshold"]),
        "automation": float(guarantee["automation_rate"]) if not np.isnan(realised) else 0.0,
        "realised_error": realised,
        "labels_needed": int(guarantee["labels_needed"]),
    }


def run_session(name: str, seed: int, explore: float, stop_every: int, meter: bool) -> dict:
    """One simulated session: learning curve, checkpoints and (if `meter`) the stop check."""
    frame, spec = load(name)
    pool, test = train_test_split(frame, test_size=0.25, random_state=seed, stratify=frame["truth"])
    s = Session(
        pool,
        spec.classes,
        features=spec.features,
        truth="truth",
        subgroups=spec.subgroup,
        store=":memory:",
        annotator="oracle",
        random_state=seed,
        progress=False,
        explore=explore,
    )
    X_test = test[spec.features].to_numpy(dtype=float)
    y_test = test["truth"].to_numpy()
    X_all = np.vstack([pool[spec.features].to_numpy(dtype=float), X_test])
    y_all = np.concatenate([pool["truth"].to_numpy(), y_test])
    started = time.perf_counter()
    out: dict[str, Any] = {"dataset": name, "seed": seed, "explore": explore}
    out |= {"curve": [], "checkpoints": [], "stops": {}, "meter": [], "losses": {}}
    last = max(spec.checkpoints) if not meter else max(max(spec.checkpoints), spec.stop_max)
    stops: dict[str, int] = out["stops"]  # first label count each rule said stop
    said_stop: dict[int, np.ndarray] = {}  # labels -> the model's predictions then
    try:
        while s.status.n_labeled < min(last, len(pool) - STEP):
            if not len(s.simulate(STEP)):
                break
            n = s.status.n_labeled
            accuracy = float(np.mean(s.model_.predict(X_test) == y_test)) if s.model_ else np.nan
            out["curve"].append((n, accuracy))
            if n in spec.checkpoints:
                out["checkpoints"].append(checkpoint(s, spec))
            reading_due = n >= 3 * stop_every and n % stop_every == 0 and n <= spec.stop_max
            if meter and "strict" not in stops and reading_due:
                reading = s.stopping().iloc[0]
                said = reading["recommendation"]
                out["meter"].append((n, said, float(reading["gain"]), float(reading["gain_high"])))
                if said in ("stop", "could stop"):
                    stops.setdefault("lenient", n)
                if said == "stop":
                    stops["strict"] = n
                if said in ("stop", "could stop"):
                    said_stop[n] = np.asarray(s.model_.predict(X_all))
                last = max([last, *(min(2 * k, len(pool) - STEP) for k in stops.values())])
            for k, before in said_stop.items():
                if n == min(2 * k, len(pool) - STEP) and k not in out["losses"]:
                    out["losses"][k] = doubling_gain(s, before, X_all, y_all, len(pool))
    finally:
        s.close()
    out["seconds"] = time.perf_counter() - started
    return out


def doubling_gain(
    s: Session, before: np.ndarray, X_all: np.ndarray, y_all: np.ndarray, n_pool: int
) -> float:
    """Accuracy now minus accuracy at the stop, on every item neither model was trained
    on: the held-out quarter and the pool items still unlabeled (more items, less noise
    than the held-out quarter alone)."""
    fresh = np.concatenate([~s.snapshot().decided, np.ones(len(y_all) - n_pool, dtype=bool)])
    now = np.asarray(s.model_.predict(X_all))
    return float(np.mean(now[fresh] == y_all[fresh]) - np.mean(before[fresh] == y_all[fresh]))


def worker_init() -> None:
    threadpool_limits(limits=1)  # one BLAS thread per worker: the jobs share the cores
    warnings.filterwarnings("ignore")


def run_task(task: tuple) -> dict:
    return run_session(*task)


# ---------------------------------------------------------------------------- summary
def coverage_rows(sessions: list[dict]) -> list[dict]:
    """One row per (data set, explore, checkpoint): bias, coverage, width ratio."""
    rows = []
    cells: dict[tuple, list[dict]] = {}
    for session in sessions:
        for point in session["checkpoints"]:
            key = (session["dataset"], session["explore"], point["n"])
            cells.setdefault(key, []).append(point)
    for (name, explore, n), points in sorted(cells.items()):
        frame = pd.DataFrame(points)
        error = frame["estimate"] - frame["truth"]
        raw = frame["unclipped"] - frame["truth"]  # the unbiased ratio, before clipping
        covered = (frame["low"] <= frame["truth"]) & (frame["truth"] <= frame["high"])
        groups = [g for p in points for g in p["groups"] if not np.isnan(g[1])]
        group_cover = [lo <= t <= hi for _, _, lo, hi, t in groups if not np.isnan(t)]
        guaranteed = frame["threshold"].notna()
        violated = frame["realised_error"] > MAX_ERROR
        rows.append(
            {
                "dataset": name,
                "explore": explore,
                "labels": n,
                "sessions": len(frame),
                "true_accuracy": float(frame["truth"].mean()),
                "bias": float(error.mean()),
                "bias_mcse": float(error.std(ddof=1) / np.sqrt(len(error))),
                "bias_unclipped": float(raw.mean()),
                "bias_unclipped_mcse": float(raw.std(ddof=1) / np.sqrt(len(raw))),
                "coverage": float(covered.mean()),
                "coverage_mcse": float(np.sqrt(covered.mean() * (1 - covered.mean()) / len(frame))),
                "band_reachable": float(
                    np.nanmean([band_reachable(p["n_eff"], p["truth"]) for p in points])
                ),
                "group_coverage": float(np.mean(group_cover)) if group_cover else np.nan,
                "group_intervals": len(group_cover),
                "width": float((frame["high"] - frame["low"]).mean()),
                "wilson_width": float(frame["wilson"].mean()),
                "width_ratio": float(((frame["high"] - frame["low"]) / frame["wilson"]).mean()),
                "n_eff": float(frame["n_eff"].replace(np.inf, np.nan).median()),
                "audits": float(frame["audits"].mean()),
                "guaranteed": float(guaranteed.mean()),
                "violations": float(violated.mean()),
                "automation": float(frame["automation"].mean()),
            }
        )
    return rows


def band_reachable(n_eff: float, truth: float) -> float:
    """Could any interval cover `truth` in BAND of sessions, were the estimate the share
    right among round(n_eff) uniform labels? A sensible interval contains the truth for
    a run of outcomes a..b, so its coverage is P(a <= X <= b), X ~ Binomial(n, truth);
    near an accuracy of 1 every such sum jumps over the band (the discreteness Brown,
    Cai and DasGupta 2001 show for binomial intervals). 1.0 or 0.0; NaN: no n_eff."""
    if not np.isfinite(n_eff):
        return np.nan
    n = max(1, round(n_eff))
    likely = np.arange(binom.ppf(1e-9, n, truth), binom.isf(1e-9, n, truth) + 1)
    total = np.concatenate([[0.0], np.cumsum(binom.pmf(likely, n, truth))])
    runs = total[None, 1:] - total[:-1, None]  # [a, b]: P(a <= X <= b), for a <= b
    inside = (runs >= BAND[0]) & (runs <= BAND[1]) & np.triu(np.ones(runs.shape, dtype=bool))
    return float(inside.any())


def stopping_rows(sessions: list[dict]) -> list[dict]:
    """Per data set and rule ("strict": stop; "lenient": stop or could stop): how often it
    stopped, how much held-out accuracy twice the labels would have added, labels saved."""
    rows = []
    by_set: dict[str, list[dict]] = {}
    for session in sessions:
        if session["meter"]:
            by_set.setdefault(session["dataset"], []).append(session)
    for name, group in by_set.items():
        _, spec = load(name)
        for rule in ("strict", "lenient"):
            loss, at = [], []
            for s in group:
                n = s["stops"].get(rule)
                gain = s["losses"].get(n) if n else None
                if gain is not None:  # the doubling was labeled
                    loss.append(gain)
                    at.append(n)
            losses, ats = np.asarray(loss), np.asarray(at)
            rows.append(
                {
                    "dataset": name,
                    "rule": rule,
                    "sessions": len(group),
                    "stopped": len(ats) / len(group),
                    "within_one_point": float(np.mean(losses <= LOSS)) if len(ats) else np.nan,
                    # a session that never stopped labeled its whole budget: it lost nothing
                    "within_one_point_all": 1 - float(np.sum(losses > LOSS)) / len(group),
                    "mean_loss": float(losses.mean()) if len(ats) else np.nan,
                    "median_stop": float(np.median(ats)) if len(ats) else np.nan,
                    "budget": spec.stop_max,
                    "saved_vs_budget": float(np.sum(1 - ats / spec.stop_max) / len(group)),
                    "saved_vs_double": float(np.mean(ats)) if len(ats) else np.nan,
                }
            )
    return rows


def doubling_rows(sessions: list[dict]) -> list[dict]:
    """The truth the meter is judged against: per data set and label count n, the share
    of sessions whose held-out accuracy at 2n is at most one point above that at n (where
    stopping at n would have been right), and the mean gain of the doubling. Only n whose
    doubling is within the label budget: every session's curve reaches it."""
    rows = []
    for name in DATASETS:
        curves = [dict(s["curve"]) for s in sessions if s["dataset"] == name and s["meter"]]
        for n in (n for n in DOUBLING_FROM if 2 * n <= load(name)[1].stop_max):
            gains = np.array([c[2 * n] - c[n] for c in curves if n in c and 2 * n in c])
            if len(gains):
                rows.append(
                    {
                        "dataset": name,
                        "labels": n,
                        "sessions": len(gains),
                        "within_one_point": float(np.mean(gains <= LOSS)),
                        "mean_gain": float(gains.mean()),
                    }
                )
    return rows


def efficiency_rows(sessions: list[dict], explore: float) -> list[dict]:
    """AULC of explore vs top-k on the same seeds (paired), over the shared curve points."""
    rows = []
    paired: dict[tuple[str, int], dict[float, list]] = {}
    for s in sessions:
        paired.setdefault((s["dataset"], s["seed"]), {})[s["explore"]] = s["curve"]
    for name in sorted({k[0] for k in paired}):
        diffs, tops, explores = [], [], []
        for (dataset, _), curves in paired.items():
            if dataset != name or 0.0 not in curves or explore not in curves:
                continue
            _, spec = load(name)
            budget = max(spec.checkpoints)
            a = dict(curves[0.0])
            b = dict(curves[explore])
            points = [n for n in a if n in b and n <= budget]
            top = np.nanmean([a[n] for n in points])
            mixed = np.nanmean([b[n] for n in points])
            tops.append(top)
            explores.append(mixed)
            diffs.append(mixed - top)
        if diffs:
            d = np.asarray(diffs)
            half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            rows.append(
                {
                    "dataset": name,
                    "pairs": len(d),
                    "aulc_topk": float(np.mean(tops)),
                    "aulc_explore": float(np.mean(explores)),
                    "difference": float(d.mean()),
                    "difference_low": float(d.mean() - half),
                    "difference_high": float(d.mean() + half),
                }
            )
    return rows


def markdown(
    coverage: list[dict],
    stopping: list[dict],
    doubling: list[dict],
    efficiency: list[dict],
    args: Any,
) -> str:
    pct = lambda x: "–" if x is None or np.isnan(x) else f"{100 * x:.1f}%"  # noqa: E731
    lines = [
        f"## Estimates, guaranteed routing, stopping: {args.sessions} simulated sessions per "
        f"data set (margin sampling, audit_share 0.1, explore {args.explore}; 95% intervals)",
        "",
        "| data set | explore | labels | sessions | true acc | bias ± MC s.e. (unclipped) | "
        "bias ± MC s.e. (estimate, clipped to [0, 1]) | coverage | "
        "93-97% reachable (binomial at n_eff) | subgroup coverage (intervals) | "
        "width / audit-only Wilson | median n_eff | audits | "
        f"guaranteed (max_error {MAX_ERROR}, delta {DELTA}) | violations | automation |",
        "|---|---:|---:|---:|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in coverage:
        lines.append(
            f"| {r['dataset']} | {r['explore']:g} | {r['labels']} | {r['sessions']} | "
            f"{r['true_accuracy']:.3f} | "
            f"{r['bias_unclipped']:+.4f} ± {r['bias_unclipped_mcse']:.4f} | "
            f"{r['bias']:+.4f} ± {r['bias_mcse']:.4f} | "
            f"{pct(r['coverage'])} | {pct(r['band_reachable'])} | "
            f"{pct(r['group_coverage'])} ({r['group_intervals']}) | "
            f"{r['width_ratio']:.2f} ({r['width']:.3f} / {r['wilson_width']:.3f}) | "
            f"{r['n_eff']:.0f} | {r['audits']:.1f} | {pct(r['guaranteed'])} | "
            f"{pct(r['violations'])} | {pct(r['automation'])} |"
        )
    lines += [
        "",
        "Stopping meter (read every "
        f"{args.stop_every} labels; loss = accuracy at twice the labels minus at the stop, "
        "on every item neither model was trained on: the held-out quarter and the pool "
        "items still unlabeled):",
        "",
        "| data set | rule | sessions | stopped | loss <= 1 point (stopped sessions) | "
        "loss <= 1 point (all sessions) | mean loss | median labels at stop | budget | "
        "labels saved vs budget (all sessions) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in stopping:
        lines.append(
            f"| {r['dataset']} | {r['rule']} | {r['sessions']} | {pct(r['stopped'])} | "
            f"{pct(r['within_one_point'])} | {pct(r['within_one_point_all'])} | "
            f"{r['mean_loss']:+.4f} | {r['median_stop']:.0f} | "
            f"{r['budget']} | {pct(r['saved_vs_budget'])} |"
        )
    lines += [
        "",
        'strict: the first "stop"; lenient: the first "stop" or "could stop" (predictions '
        "settled and the estimated gain under one point, its interval wider). Sessions "
        "that never stopped label the whole budget (nothing saved, nothing lost).",
        "",
        "Would stopping at n labels have been right? From the held-out learning curves of "
        "the same sessions: the share where twice the labels bought at most one point.",
        "",
        "| data set | n | sessions | 2n buys <= 1 point | mean gain of 2n over n |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in doubling:
        lines.append(
            f"| {r['dataset']} | {r['labels']} | {r['sessions']} | "
            f"{pct(r['within_one_point'])} | {r['mean_gain']:+.4f} |"
        )
    if efficiency:
        lines += [
            "",
            f"Label efficiency of explore={args.explore} against top-k (explore=0), paired "
            "sessions, held-out AULC up to the last checkpoint:",
            "",
            "| data set | pairs | AULC top-k | AULC explore | difference [95% CI] |",
            "|---|---:|---:|---:|---|",
        ]
        for r in efficiency:
            lines.append(
                f"| {r['dataset']} | {r['pairs']} | {r['aulc_topk']:.4f} | "
                f"{r['aulc_explore']:.4f} | {r['difference']:+.4f} "
                f"[{r['difference_low']:+.4f}, {r['difference_high']:+.4f}] |"
            )
    return "\n".join(lines)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("hitl_widgets", "scikit-learn", "numpy", "scipy", "pandas"):
        try:
            out[package] = version(package)
        except Exception:
            out[package] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200, help="sessions per data set")
    parser.add_argument("--efficiency-sessions", type=int, default=50)
    parser.add_argument("--explore", type=float, default=0.5)
    parser.add_argument("--stop-every", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--quick", action="store_true", help="20 sessions, 10 paired")
    parser.add_argument("--out", default="estimates", help="file stem under results/")
    parser.add_argument(
        "--summarize",
        metavar="JSON",
        help="no new sessions: redo the tables from the sessions saved in a results file",
    )
    args = parser.parse_args()
    if args.quick:
        args.sessions, args.efficiency_sessions = 20, 10
    if args.summarize:
        saved = json.loads(Path(args.summarize).read_text())
        for key in ("sessions", "explore", "stop_every", "jobs"):
            setattr(args, key, saved["settings"][key])
        write(saved["sessions"], saved["runtime_seconds"], args)
        return
    started = time.perf_counter()
    tasks = [
        (name, seed, args.explore, args.stop_every, True)
        for seed in range(args.sessions)
        for name in args.datasets
    ]
    tasks += [
        (name, seed, 0.0, args.stop_every, False)
        for seed in range(min(args.efficiency_sessions, args.sessions))
        for name in args.datasets
    ]
    sessions: list[dict] = []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=worker_init) as pool:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            sessions.append(future.result())
            if done % 10 == 0 or done == len(tasks):
                print(
                    f"[{done}/{len(tasks)}] {time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    write(sessions, time.perf_counter() - started, args)


def write(sessions: list[dict], runtime: float, args: Any) -> None:
    """The tables to stdout and results/<out>.md, the numbers and sessions to .json."""
    coverage = coverage_rows(sessions)
    stopping = stopping_rows(sessions)
    doubling = doubling_rows(sessions)
    efficiency = efficiency_rows(sessions, args.explore)
    text = markdown(coverage, stopping, doubling, efficiency, args)
    text += f"\n\nTotal runtime: {runtime:.0f} s with {args.jobs} worker process(es)."
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text(text + "\n")
    payload = {
        "settings": vars(args) | {"max_error": MAX_ERROR, "delta": DELTA, "loss": LOSS},
        "versions": versions(),
        "coverage": coverage,
        "stopping": stopping,
        "doubling": doubling,
        "efficiency": efficiency,
        "sessions": sessions,
        "runtime_seconds": runtime,
    }
    (RESULTS / f"{args.out}.json").write_text(json.dumps(payload, indent=1, default=float))
    print(f"Wrote {RESULTS / args.out}.{{md,json}}", file=sys.stderr)


if __name__ == "__main__":
    main()
