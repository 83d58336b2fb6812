"""Write every notebook in notebooks/ (the .ipynb files are committed without outputs).

Kept as code so the notebooks stay reviewable in diffs and are rebuilt the same way:

    python scripts/make_notebooks.py            # rewrite all of them
    python scripts/make_notebooks.py images     # only notebooks/images.ipynb

The code cells are then formatted with ruff (as `make lint` expects).

House rules for the notebooks (tests/notebooks and tests/ui/test_notebooks_browser.py
check the mechanical ones):
- every chart goes through `hw.show` (offline, the package's own vega runtime), never a
  bare Altair output, which loads vega from a CDN;
- numbers in the prose come from the cells: a cell computes them and says them in a
  sentence (`Markdown(...)`); the markdown cells only say what to look for;
- no raw reprs (`SessionStatus(...)`, `LabelEvent(...)`) and no event UUIDs in outputs:
  small tables and sentences, with names;
- tables fit a 1280 px wide JupyterLab with the file browser open: few columns,
  formatted numbers, long text cut;
- all data loads offline (generated, or shipped inside scikit-learn).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat as nbf

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def md(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_code_cell(text.strip("\n"))


def notebook(cells: list[nbf.NotebookNode]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating leaves no diff
        cell["id"] = f"cell-{i:02d}"
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# --------------------------------------------------------------------------- quickstart
QUICKSTART = [
    md("""
# Quickstart: label text with the model's help

You have 600 product reviews and no labels. A classifier (TF-IDF + logistic regression by
default) learns from every label you give and ranks the remaining reviews so you see the
ones it is **least sure about** first. Every label is saved to an SQLite file the moment
you submit it: restart the kernel and run the notebook again, and you pick up where you
left off.
"""),
    code("""
from IPython.display import Markdown

import hitl_widgets as hw
from hitl_widgets.datasets import product_reviews



def readable(table, **formats):
    \"\"\"A table of text that reads at a glance: left-aligned, numbers formatted.\"\"\"
    return (
        table.style.format(formats, na_rep="none")
        .set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "th", "props": "text-align: left"}], overwrite=False)
    )


reviews = product_reviews(600, random_state=0)  # generated offline; 'truth' is the answer key
readable(reviews[["text", "category"]].head())
"""),
    md("""
## The labeler and the dashboard

`hw.label` makes a session (the pool, the label set, the model, the store) and shows the
labeler with the live dashboard under it. `truth` names the answer key: the labeler never
shows it, and the dashboard uses it to measure accuracy on the reviews nobody labeled.
With your own data you would leave it out (the dashboard then measures with random audit
items instead).

Click the card first so the keys go to it: `1`/`2` label, `Enter` accepts the model's
suggestion, `S` skips, `Z` undoes, the arrows move through the queue. "saved" appears only
once the label is in the store.
"""),
    code("""
app = hw.label(
    reviews,
    classes=["neg", "pos"],
    features="text",           # one text column: TF-IDF + logistic regression
    subgroups="category",      # accuracy and disagreement per product category
    truth="truth",
    store="quickstart-labels.sqlite",
    random_state=0,
    highlight=["not", "but"],  # words worth seeing at a glance
)
session = app.session
app
"""),
    md("""
## The queue

The queue is a DataFrame too: the next items, why they are there and what the model
would say. Before both classes have a label it is a seeded random order (cold start),
with no suggestion yet.
"""),
    code("""
def next_up(k=5):
    table = session.queue(k)[["reason", "suggestion", "confidence"]].join(reviews["text"])
    return readable(table, confidence="{:.3f}")

next_up()
"""),
    md("""
## Label from code

No time to click through a demo? Label from a cell: it takes the same path as a click
(durable save, then a background refit). Here the answer key plays you for 60 reviews,
one at a time, each the model's current top question; the labeler above moves on and the
charts redraw.
"""),
    code("""
for _ in range(60):
    item_id = session.queue(1).index[0]
    session.submit(item_id, reviews.loc[item_id, "truth"])
    session.wait()  # the refit, as your reading time would allow

fit = session.history_[-1]
Markdown(
    f"**{len(session.labels)}** reviews are labeled. The model (version "
    f"{session.model_version_}) gets **{fit.truth_accuracy:.0%}** of the "
    f"{fit.truth_n} unlabeled reviews right, by the answer key."
)
"""),
    md("""
Now the queue holds the reviews the model is least sure about (the margin between its
two probabilities is smallest), each with the label it would give:
"""),
    code("""
next_up()
"""),
    md("""
## The labels and the audit trail

`session.labels` holds the current label per item. Underneath, every act (label, skip,
undo) is an event in an append-only trail, with who did it, when, and what the model
suggested at that moment; a correction is a new event, never an edit.
"""),
    code("""
readable(session.labels.join(reviews["text"])[["text", "label", "annotator"]].tail())
"""),
    code("""
trail = session.events[["item_id", "action", "label", "suggestion", "model_version"]]
trail.tail().style.hide(axis="index").format({"model_version": "{:.0f}"}, na_rep="none")
"""),
    code("""
path = session.export("quickstart-labels.csv")  # or .parquet / .jsonl
status = session.status
Markdown(
    f"{status.n_labeled} of {status.n_items} reviews labeled; exported to `{path}`. "
    f"The store is `{session.store_path}`: run the notebook again and it resumes."
)
"""),
]

# ----------------------------------------------------------------------------- teaching
TEACHING = [
    md("""
# Active learning, live: a teaching notebook

A model learns from labels. Labels cost a person's time. **Active learning** asks the
person about the items the model is least sure about, instead of items drawn at random,
hoping to reach the same accuracy with fewer labels.

In this notebook a *simulated oracle* plays the human: it answers from a hidden answer
key, through exactly the same path a click takes (durable save, background refit). You
can watch it label, see where the model is unsure, and race uncertainty sampling against
random sampling, with honest error bars.
"""),
    code("""
import numpy as np
import pandas as pd
from IPython.display import Markdown
from scipy import stats
from sklearn.datasets import make_classification

import hitl_widgets as hw
from hitl_widgets.charts.pool_map import pool_map_chart, pool_map_table
from hitl_widgets.charts.race import race_chart
from hitl_widgets.core.race import area_under_curve, race, race_summary

X, y = make_classification(n_samples=1000, n_features=2, n_redundant=0, n_informative=2,
                           n_clusters_per_class=2, class_sep=1.1, flip_y=0.03, random_state=4)
pool = pd.DataFrame(X, columns=["x1", "x2"])
pool["truth"] = np.where(y == 1, "blue", "orange")  # the answer key, hidden from the learner
pool.head().style.format(precision=2)
"""),
    md("""
## 1. One learner, one oracle

Ten labels in a random order to start (the model cannot rank anything before it has seen
both classes), then the oracle answers whatever the model asks. Run the next two cells
and watch the widget: the cards change as the oracle labels (`pace` slows it down so a
class can follow).
"""),
    code("""
session = hw.Session(pool, classes=["orange", "blue"], features=["x1", "x2"],
                     truth="truth", store=":memory:", random_state=0)
labeler = hw.Labeler(session)
labeler
"""),
    code("""
session.simulate(10, pace=0.05)   # cold start: random order
session.simulate(30, pace=0.05)   # then the model asks what it is unsure about
fit = session.history_[-1]
Markdown(
    f"The oracle gave **{len(session.labels)}** labels. The model (version "
    f"{session.model_version_}) now gets **{fit.truth_accuracy:.1%}** of the "
    f"{fit.truth_n} items it has not seen right."
)
"""),
    md("""
## 2. Where is the model unsure?

Each dot is an unlabeled item, darker = less sure. Black marks are labeled items; red
diamonds are the next questions. Uncertainty sampling keeps asking along the boundary
between the classes.
"""),
    code("""
hw.show(pool_map_chart(pool_map_table(session, "x1", "x2"), "x1", "x2", len(pool)))
"""),
    md("""
## 3. Does it pay off? A race, repeated

One run proves nothing: the seed labels and the split move the curve. The race repeats
the whole experiment ten times (each time a new train/test split and ten new seed
labels, shared by both strategies) and draws the mean with a 95% interval. Accuracy is
measured on the held-out test split, never on the items a strategy chose. With two
classes, margin, entropy and least-confidence sampling rank items identically, so
`margin` stands for all three.
"""),
    code("""
curves = race(pool, ["orange", "blue"], "truth", features=["x1", "x2"],
              strategies=["margin", "random"], seed_labels=10, budget=40, repeats=10,
              eval_every=5)
hw.show(race_chart(race_summary(curves), area_under_curve(curves)))
"""),
    md("""
The race ranks strategies by the mean accuracy over the whole learning curve (the area
under it). Because both strategies share the split and the seed labels in each
repetition, the honest comparison is the paired difference:
"""),
    code("""
per_run = curves.groupby(["repeat", "strategy"])["accuracy"].mean().unstack()
gain = per_run["margin"] - per_run["random"]
half = stats.t.ppf(0.975, len(gain) - 1) * gain.std(ddof=1) / np.sqrt(len(gain))
low, high = gain.mean() - half, gain.mean() + half
if low > 0:
    verdict = "uncertainty sampling beats random sampling here"
elif high < 0:
    verdict = "random sampling beats uncertainty sampling here"
else:
    verdict = ("the interval includes zero: this data and budget show no difference; "
               "run more repetitions before claiming one")
Markdown(
    f"Mean accuracy over the curve, margin minus random, paired by repetition: "
    f"**{gain.mean():+.3f}** (95% interval {low:+.3f} to {high:+.3f}, "
    f"{len(gain)} repetitions): {verdict}."
)
"""),
    md("""
**What to say in class:** on some data sets uncertainty sampling does *worse* than
random (noisy labels, a model that does not fit the task, too few seed labels): the
random line is there so nobody has to take the method on faith.

## 4. A fallible human

People make mistakes. Give the oracle 20% label noise, the same 40 labels, and compare
with the careful oracle of part 1.
"""),
    code("""
noisy = hw.Session(pool, classes=["orange", "blue"], features=["x1", "x2"],
                   truth="truth", store=":memory:", random_state=0)
answers = noisy.simulate(40, noise=0.2, random_state=1)
wrong = int((answers["label"] != answers["oracle_label"]).sum())
clean_fit, noisy_fit = session.history_[-1], noisy.history_[-1]
pd.DataFrame(
    {
        "labels": [len(session.labels), len(noisy.labels)],
        "wrong labels": [0, wrong],
        "accuracy on the rest": [clean_fit.truth_accuracy, noisy_fit.truth_accuracy],
    },
    index=pd.Index(["careful oracle", "20% noise"], name="oracle"),
).style.format({"accuracy on the rest": "{:.1%}"})
"""),
    md("""
One run each: the race above shows how much single runs move. Wrong labels pull the
decision boundary toward them, and uncertainty sampling, which asks exactly near the
boundary, is the strategy that meets them most.
"""),
]

# --------------------------------------------------------------------------- bias audit
BIAS_AUDIT = [
    md("""
# A slice-level bias audit

An analyst has a loan-approval pool and a model. The question is not only "how accurate
is it?" but "how accurate is it **for whom**?", with intervals honest about how little
is known for small groups.

The data are generated offline (`hitl_widgets.datasets.loan_applications`): group B is a
minority whose income is self-reported, so the model sees its key feature through noise.
Reviewers label a sample; the audit estimates accuracy per subgroup, reviews the weakest
slice, and lets the model decide alone only where the audit labels support it.
"""),
    code("""
from IPython.display import Markdown

import hitl_widgets as hw
from hitl_widgets.charts.routing import routing_chart
from hitl_widgets.datasets import loan_applications

loans = loan_applications(3000, random_state=0)
groups = loans.groupby("group").agg(
    applications=("truth", "size"),
    repaid=("truth", lambda s: (s == "repaid").mean()),
)
groups["share"] = groups["applications"] / len(loans)
groups.style.format({"repaid": "{:.1%}", "share": "{:.1%}"})
"""),
    md("""
`truth` is the answer key. Here it stands in for the reviewers (a simulated oracle) and
gives a held-out check of the estimates; in a real audit you would have only the
reviewers' labels, and the **random audit** share of the queue (`audit_share`, here a
quarter of it) gives the unbiased estimates.

The reviewers' labeler and the live dashboard (accuracy, disagreement per subgroup,
remaining uncertainty; click a subgroup bar to focus the labeler on it):
"""),
    code("""
features = ["income", "debt_ratio", "years_employed", "amount", "age"]
audit = hw.Session(loans, classes=["defaulted", "repaid"], features=features,
                   subgroups=["group", "age"], truth="truth", audit_share=0.25,
                   store="bias-audit-labels.sqlite", random_state=0)
hw.LabelingApp(audit)
"""),
    code("""
audit.simulate(160)   # the reviewers' first 160 labels
Markdown(f"**{len(audit.labels)}** applications are labeled; the widgets above follow.")
"""),
    md("""
## Accuracy per subgroup, with intervals

Measured on every unlabeled application against the answer key, with 95% Wilson
intervals; `small` flags groups too small to rank.
"""),
    code("""
PERCENT = "{:.1%}"

accuracy = audit.metrics()["accuracy_by_subgroup"]
accuracy[["column", "subgroup", "n", "rate", "low", "high", "small"]].style.hide(
    axis="index").format({"rate": PERCENT, "low": PERCENT, "high": PERCENT})
"""),
    md("""
A real audit has no answer key. What it has are the **random audit labels**: items the
queue drew uniformly at random, labeled without the model's suggestion on screen, and
compared with the model's prediction from before the label. `find_slices(columns="all")`
searches not only the two columns named as subgroups (`group`, `age`) but every column of
the pool that can be sliced (numeric ones binned as the charts bin them), alone and in
pairs, for the highest error rate on those labels, and corrects the p-values for every
slice it tried (Holm).
"""),
    code("""
SLICE_COLUMNS = ["rank", "slice", "n_audit", "errors", "error_rate", "low", "high",
                 "p_adjusted", "verdict"]


def slice_table(slices):
    return slices[SLICE_COLUMNS].head(5).style.hide(axis="index").format(
        {"rank": "{:.0f}", "error_rate": PERCENT, "low": PERCENT, "high": PERCENT,
         "p_adjusted": "{:.3f}"}, na_rep="").set_properties(
        subset=["slice", "verdict"], **{"text-align": "left"})


slices = audit.find_slices(columns="all")
weakest = slices.iloc[0]
slice_table(slices)
"""),
    code("""
unnamed = sorted(set(weakest["where"]) - {"group", "age"})
found = (f"a slice on {', '.join(unnamed)}, which nobody named as a subgroup"
         if unnamed else "a slice of the named subgroups")
Markdown(
    f"The audit labels rank **{weakest['slice']}** first ({found}): "
    f"{weakest['errors']} wrong of "
    f"{weakest['n_audit']} (error rate {weakest['error_rate']:.0%}, 95% interval "
    f"{weakest['low']:.0%} to {weakest['high']:.0%}); corrected for the slices tried, "
    f"p = {weakest['p_adjusted']:.3f}: {weakest['verdict']}."
)
"""),
    md("""
## Review the weakest slice

Focus the labeler on that slice (clicking its bar in the dashboard does the same) and
label 60 more there. The queue's audit share then draws from inside the slice, so its
interval narrows.
"""),
    code("""
audit.focus(weakest)
audit.simulate(60)
audit.focus(None)
after = audit.find_slices(columns="all")
again = after[after["slice"] == weakest["slice"]].iloc[0]
Markdown(
    f"**{weakest['slice']}** now has {again['n_audit']} audit labels (was "
    f"{weakest['n_audit']}): {again['errors']} wrong, error rate {again['error_rate']:.0%} "
    f"(95% interval {again['low']:.0%} to {again['high']:.0%}); corrected p = "
    f"{again['p_adjusted']:.3f}: {again['verdict']}."
)
"""),
    code("""
slice_table(after)
"""),
    md("""
## Where may the model decide alone?

For each confidence threshold: the share of unlabeled items the model would auto-accept,
and the accuracy of that part, from the random audit labels (with a Wilson band), from
the model's own calibration, and from the answer key.
"""),
    code("""
hw.show(routing_chart(audit.routing_curve(), threshold=0.9))
"""),
    md("""
One threshold for everybody hides the groups it fails. `route(max_error=..., delta=...,
by="group")` picks, for each group on its own, the lowest threshold whose auto-accepted
error is at most `max_error` with probability at least 1 − `delta`, from that group's
uniformly drawn labels (an exact binomial test per threshold, tested from strict to
lenient). A group whose labels support no threshold is never auto-accepted: every one of
its items goes to a person. The items the model is very unsure of (below 0.6) go to a
senior reviewer.
"""),
    code("""
routes = audit.route(max_error=0.10, delta=0.10, by="group", escalate_below=0.6,
                     export="bias-audit-routes.csv")
guarantee = routes.attrs["guarantee"]
guarantee[["subgroup", "threshold", "auto_n", "automation_rate", "audit_n", "audit_errors",
           "error_bound"]].style.hide(axis="index").format(
    {"threshold": "{:.3f}", "automation_rate": PERCENT, "error_bound": "{:.3f}"},
    na_rep="none")
"""),
    code("""
Markdown("\\n".join(f"- **group {row.subgroup}**: {row.note}" for row in guarantee.itertuples()))
"""),
    md("""
Where each application goes now (the labeler's queue holds only the ones routed to
people; `bias-audit-routes.csv` has every decision with its provenance):
"""),
    code("""
where = routes.groupby([loans["group"], routes["route"]]).size().unstack(fill_value=0)
where
"""),
    code("""
open_items = where.drop(columns="labeled").sum(axis=1)
Markdown("\\n".join(
    f"- group {group}: the model decides **{where.loc[group, 'auto']}** of its "
    f"{open_items[group]} unlabeled applications alone; people get the other "
    f"{open_items[group] - where.loc[group, 'auto']}."
    for group in where.index
))
"""),
]

# ------------------------------------------------------------------------ team labeling
TEAM = [
    md("""
# Team labeling: two annotators, agreement, adjudication

Two people label the same project, each in their own notebook; here both sit in one
notebook for the demo. Every item gets **two independent opinions** (`overlap=2`), items
are claimed atomically so nobody is handed more than the overlap asks for, neither
annotator sees the other's labels, and a reviewer resolves disagreements.

For a real team, point `store=` at PostgreSQL
(`store="postgresql://user@host/labels"`): the same tables, with row-level claims.
Here an SQLite file is shared, which works the same way on one machine.
"""),
    code("""
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

import hitl_widgets as hw
from hitl_widgets.datasets import product_reviews

PERCENT = "{:.0%}"


def readable(table, **formats):
    \"\"\"A table of text that reads at a glance: left-aligned, numbers formatted.\"\"\"
    return (
        table.style.format(formats, na_rep="none")
        .set_properties(**{"text-align": "left"})
        .set_table_styles([{"selector": "th", "props": "text-align: left"}], overwrite=False)
    )


reviews = product_reviews(400, random_state=1)
team = dict(classes=["neg", "pos"], features="text", subgroups="category",
            store="team-labels.sqlite", overlap=2, random_state=0)
ana = hw.Session(reviews, annotator="ana", **team)
bo = hw.Session(reviews, annotator="bo", **team)
"""),
    md("""
Ana is careful: slow, and right. Bo is in a hurry: quick, and 20% of his answers are
wrong. Both are simulated here, through the same claim-and-submit path their labelers
use, with the time each label took; both work blind (`hw.Labeler(session, blind=True)`:
the model's suggestion is recorded with the label but not shown), so their agreement
with the model says something about them, not about the model's influence.
"""),
    code("""
rng = np.random.default_rng(7)


def sitting(session, n, error_rate, seconds):
    \"\"\"Claim n items and answer them, wrong with probability error_rate, taking about
    `seconds` per label.\"\"\"
    for item_id in session.claim(n).index:
        answer = reviews.loc[item_id, "truth"]
        if rng.random() < error_rate:
            answer = "pos" if answer == "neg" else "neg"
        seconds_spent = rng.gamma(4.0, seconds / 4.0)
        session.submit(item_id, answer, time_spent_ms=1000 * seconds_spent)
    session.wait()


for _ in range(10):
    sitting(ana, 20, error_rate=0.0, seconds=12.0)
    sitting(bo, 20, error_rate=0.2, seconds=3.0)
ana.sync()
per_item = ana.opinions.groupby("item_id").size()
counts = ana.opinions["annotator"].value_counts()
Markdown(
    f"Ana gave {counts['ana']} labels, Bo {counts['bo']}. {len(per_item)} reviews have "
    f"an opinion: **{(per_item == 2).sum()}** from both, {(per_item == 1).sum()} from one "
    f"so far (their second opinion is still open)."
)
"""),
    md("""
## Agreement

Pairwise Cohen's kappa, Fleiss' kappa and Krippendorff's alpha (nominal), over the items
with two opinions, overall and per product category (1 = perfect agreement, 0 = what
chance gives).
"""),
    code("""
agreement = ana.agreement(by="category")
agreement[["subgroup", "fleiss_items", "mean_pairwise_kappa", "fleiss_kappa",
           "krippendorff_alpha"]].rename(
    columns={"fleiss_items": "rated twice", "mean_pairwise_kappa": "cohen_kappa"}).style.hide(
    axis="index").format(precision=3, na_rep="n/a")
"""),
    md("""
## Adjudication

Items whose two opinions disagree wait for a reviewer. The head of her queue, with who
said what:
"""),
    code("""
rev = hw.Session(reviews, annotator="rev", role="reviewer", **team)
waiting = rev.adjudication_queue()
said = pd.DataFrame(list(waiting["opinions"]), index=waiting.index)
display(Markdown(f"{len(waiting)} reviews wait for a decision."))
readable(said.join(reviews["text"])[["text", "ana", "bo"]].head(8))
"""),
    md("""
The reviewer decides all but the last three here (from the answer key, standing in for
her judgment). Each decision is an event that records which opinions it settled; the
trail keeps event ids, the table below turns them back into names and labels.
"""),
    code("""
for item_id in waiting.index[:-3]:
    rev.resolve(item_id, reviews.loc[item_id, "truth"])

trail = rev.events
by_event = trail.set_index("event_id")


def who_said(basis):
    said = sorted((by_event.at[e, "annotator"], by_event.at[e, "label"]) for e in basis.split(","))
    return ", ".join(f"{who}: {label}" for who, label in said)


decisions = trail[trail["action"] == "resolve"].set_index("item_id")
named = decisions.assign(opinions=decisions["basis"].map(who_said)).join(reviews["text"])
readable(
    named[["text", "opinions", "label", "annotator"]]
    .rename(columns={"label": "decision", "annotator": "decided by"})
    .head(8)
)
"""),
    md("""
The last ones are in the reviewer's labeler: each card shows the item with both
opinions; her key (`1`/`2`) resolves it.
"""),
    code("""
hw.Labeler(rev, mode="adjudicate")
"""),
    md("""
## Who is careful?

`annotator_report` compares each annotator with the majority. With two raters a majority
exists only where they agree, so it cannot tell who was right on a disagreement; the
reviewer's decisions can. The table compares each annotator with the **settled label**
(both agreed, or the reviewer decided), with the model's suggestion when they worked
blind, and with the answer key this demo has; and it shows the time per label.
"""),
    code("""
rev.sync()
opinions = rev.opinions
two = opinions.groupby("item_id")["annotator"].transform("size") == 2
agreed = opinions.groupby("item_id")["label"].transform("nunique") == 1
resolved = opinions["item_id"].isin(decisions.index.astype(str))
settled = opinions[two & (agreed | resolved)]
final = rev.labels["label"]
final.index = final.index.astype(str)

report = rev.annotator_report().set_index("annotator")
seconds = trail[trail["action"] == "label"].groupby("annotator")["time_spent_ms"].median() / 1000
table = pd.DataFrame({
    "labels": report["n_labels"],
    "agrees with settled label": settled.assign(
        ok=settled["label"] == settled["item_id"].map(final)).groupby("annotator")["ok"].mean(),
    "settled items": settled.groupby("annotator").size(),
    "agrees with model (blind)": report["blind_agreement"],
    "right by answer key": opinions.assign(
        ok=opinions["label"].to_numpy() == reviews.loc[opinions["item_id"], "truth"].to_numpy()
    ).groupby("annotator")["ok"].mean(),
    "median s per label": seconds,
}).loc[["ana", "bo"]]
table.style.format({"agrees with settled label": PERCENT, "agrees with model (blind)": PERCENT,
                    "right by answer key": PERCENT, "median s per label": "{:.1f}"})
"""),
    code("""
a, b = table.loc["ana"], table.loc["bo"]
sure = trail[trail["action"] == "label"]["suggestion_confidence"].mean()
Markdown(
    f"On the settled items Ana agrees with the final label "
    f"**{a['agrees with settled label']:.0%}** of the time, Bo "
    f"**{b['agrees with settled label']:.0%}**; Ana takes a median "
    f"{a['median s per label']:.1f} s per label, Bo {b['median s per label']:.1f} s. "
    f"Against the plain majority both would score {report.loc['ana', 'consensus_rate']:.0%} "
    f"and {report.loc['bo', 'consensus_rate']:.0%}. Agreement with the model separates them "
    f"less ({a['agrees with model (blind)']:.0%} and {b['agrees with model (blind)']:.0%}): "
    f"the queue hands out the items the model is least sure about (its mean confidence on "
    f"them: {sure:.0%}), where its suggestion is a weak yardstick."
)
"""),
    md("""
## Likely label errors

Confident learning over cross-validated probabilities flags labeled items whose label is
probably wrong. They go to a review queue; a correction is a new event, never an edit.
"""),
    code("""
issues = rev.label_issues()
checked = issues.join(rev.labels["annotator"]).join(reviews[["text", "truth"]])
checked["wrong"] = checked["given_label"] != checked["truth"]
flagged = checked[checked["is_issue"]]
Markdown(
    f"{len(flagged)} of {len(checked)} labels are flagged. By the answer key "
    f"{checked['wrong'].sum()} labels are wrong, and {flagged['wrong'].sum()} of them are "
    f"among the flagged: a flag is a reason to look again, not a verdict."
)
"""),
    code("""
columns = ["text", "given_label", "suggested_label", "self_confidence", "annotator"]
readable(flagged[columns].head(8), self_confidence="{:.2f}")
"""),
    code("""
hw.Labeler(rev, mode="review")
"""),
]

# ------------------------------------------------------------------------------ images
IMAGES = [
    md("""
# Labeling images

A researcher has a folder of scanned handwritten digits and wants the 3s, 5s and 8s
sorted (the digits people and models confuse most). Here the scans are scikit-learn's
bundled digits (1,797 images of 8×8 pixels from the UCI handwritten digits set, shipped
inside scikit-learn: nothing is downloaded), scaled up to 96×96 PNGs with Pillow so a
person can see them.
"""),
    code("""
import io

import numpy as np
import pandas as pd
from IPython.display import Markdown
from PIL import Image
from sklearn.datasets import load_digits

import hitl_widgets as hw

NAMES = {3: "three", 5: "five", 8: "eight"}
digits = load_digits()
keep = np.isin(digits.target, list(NAMES))


def to_png(image, size=96):
    \"\"\"An 8x8 scan (0-16, 16 = ink) as a dark-on-white PNG.\"\"\"
    gray = (255 - image * (255 / 16)).astype(np.uint8)
    big = Image.fromarray(gray).resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    return buffer.getvalue()


pixels = pd.DataFrame(digits.data[keep], columns=[f"px{i:02d}" for i in range(64)])
ink = digits.data[keep].sum(axis=1)  # how much ink a scan holds: faint or heavy strokes
scans = pixels.assign(
    image=[to_png(image) for image in digits.images[keep]],
    strokes=pd.qcut(ink, 3, labels=["faint", "medium", "heavy"]).astype(str),
    truth=[NAMES[d] for d in digits.target[keep]],  # the answer key, for the demo only
)
scans.index = pd.Index([f"scan{i:04d}" for i in np.flatnonzero(keep)], name="scan")
Markdown(f"{len(scans)} scans: " + ", ".join(
    f"{n} {name}s" for name, n in scans["truth"].value_counts().sort_index().items()))
"""),
    md("A few of them, as they come:"),
    code("""
sheet = Image.new("L", (12 * 50, 2 * 50), 255)
for i, png in enumerate(scans["image"].head(24)):
    sheet.paste(Image.open(io.BytesIO(png)).resize((48, 48)), ((i % 12) * 50, (i // 12) * 50))
sheet
"""),
    md("""
## The labeler, with the dashboard

The model reads the 64 raw pixel intensities (a scaled logistic regression, the default
for numeric columns); the labeler shows the `image` column as a picture
(`view="image"`); the dashboard breaks accuracy down by stroke weight (`strokes`, a
third of the scans each), in case faint scans fool the model more.

Keys: `1` three, `2` five, `3` eight; `Enter` accepts the model's suggestion, `S` skips,
`Z` undoes the last label, the arrows move through the queue.

To label without being anchored by the model, use **blind mode**:
`hw.label(..., blind=True)` (or `hw.Labeler(session, view="image", column="image",
blind=True)`) hides the suggestion; it is still recorded with each label, so the
team report can compare what you said with what the model would have said.
"""),
    code("""
app = hw.label(
    scans,
    classes=["three", "five", "eight"],
    features=list(pixels.columns),   # the model sees pixels; the labeler shows the image
    subgroups="strokes",
    truth="truth",
    view="image",
    column="image",
    store="images-labels.sqlite",
    random_state=0,
)
session = app.session
app
"""),
    md("""
No time to click? The answer key labels 30 scans from this cell, one at a time, each the
model's current top question, through the same path a click takes; the card and the
charts above move on.
"""),
    code("""
for _ in range(30):
    item_id = session.queue(1).index[0]
    session.submit(item_id, scans.loc[item_id, "truth"])
    session.wait()
fit = session.history_[-1]
Markdown(
    f"**{len(session.labels)}** scans labeled; the model gets **{fit.truth_accuracy:.1%}** "
    f"of the {fit.truth_n} unlabeled scans right, by the answer key."
)
"""),
    md("Which digits does it still mix up? Its predictions on the unlabeled scans:"),
    code("""
unlabeled = scans.drop(index=session.labels.index)
predicted = session.model_.predict(unlabeled[pixels.columns].to_numpy())
confusion = pd.crosstab(unlabeled["truth"].rename("answer key"),
                        pd.Series(predicted, name="model says", index=unlabeled.index))
confusion
"""),
    code("""
mixups = confusion.where(~np.eye(len(confusion), dtype=bool)).stack()
(truth, said), n = mixups.idxmax(), int(mixups.max())
Markdown(f"The most common mix-up: **{n}** {truth}s read as {said}"
         f"s (of {confusion.loc[truth].sum()} unlabeled {truth}s).")
"""),
    md("""
The next questions are the scans the model is least sure about; open one in the labeler
(the arrows move through the queue) and see why:
"""),
    code("""
session.queue(5)[["reason", "suggestion", "confidence"]].style.format(
    {"confidence": "{:.2f}"}, na_rep="withheld").set_properties(**{"text-align": "left"})
"""),
]

NOTEBOOK_CELLS = {
    "quickstart": QUICKSTART,
    "teaching": TEACHING,
    "bias_audit": BIAS_AUDIT,
    "team_labeling": TEAM,
    "images": IMAGES,
}


def main(names: list[str]) -> None:
    paths = []
    for name in names or list(NOTEBOOK_CELLS):
        path = NOTEBOOKS / f"{name}.ipynb"
        nbf.write(notebook(NOTEBOOK_CELLS[name]), path)
        paths.append(path)
    # the code cells in the project's style (`make lint` checks notebooks too)
    subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, paths)], check=True
    )
    for path in paths:
        print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1:])
