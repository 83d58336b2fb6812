"""Write the teaching, bias-audit and team notebooks (run once; the .ipynb files are committed).

Kept as code so the notebooks stay reviewable in diffs and are rebuilt the same way.
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell


def write(name: str, cells: list) -> None:
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbf.write(nb, NOTEBOOKS / name)


write(
    "teaching.ipynb",
    [
        md("""# Active learning, live: a teaching notebook

A model learns from labels. Labels cost a person's time. **Active learning** asks the
person about the items the model is least sure about, instead of items drawn at random,
hoping to reach the same accuracy with fewer labels.

In this notebook a *simulated oracle* plays the human: it answers from a hidden answer
key, through exactly the same path a click takes (durable save, background refit). You
can watch it label, see where the model is unsure, and race uncertainty sampling against
random sampling, with honest error bars."""),
        code("""import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

import hitl_widgets as hw
from hitl_widgets.charts.pool_map import pool_map_chart, pool_map_table
from hitl_widgets.charts.race import race_chart
from hitl_widgets.core.race import area_under_curve, race, race_summary

X, y = make_classification(n_samples=1500, n_features=2, n_redundant=0, n_informative=2,
                           n_clusters_per_class=2, class_sep=1.1, flip_y=0.03, random_state=4)
pool = pd.DataFrame(X, columns=["x1", "x2"])
pool["truth"] = np.where(y == 1, "blue", "orange")  # the answer key, hidden from the learner
pool.head()"""),
        md("""## 1. One learner, one oracle

Ten random labels to start, then the oracle answers whatever the model asks. Run the
next two cells and watch the widget: the cards change as the oracle labels
(`pace` slows it down so a class can follow)."""),
        code("""session = hw.Session(pool, classes=["orange", "blue"], features=["x1", "x2"],
                     truth="truth", store=":memory:", random_state=0)
labeler = hw.Labeler(session)
labeler"""),
        code("""session.simulate(10, pace=0.05)   # cold start: random order
session.simulate(30, pace=0.05)   # then the model asks what it is unsure about
session.status"""),
        md("""## 2. Where is the model unsure?

Each dot is an unlabeled item, darker = less sure. Black marks are labeled items; red
diamonds are the next questions. Uncertainty sampling keeps asking along the boundary."""),
        code("""pool_map_chart(pool_map_table(session, "x1", "x2"), "x1", "x2", len(pool))"""),
        md("""## 3. Does it pay off? A race, repeated

One run proves nothing: the seed labels and the split move the curve. The race repeats
the whole experiment (new split, new seed labels, shared by all strategies within a
repetition) and draws the mean with a 95% interval. Accuracy is measured on a held-out
test split, never on the items a strategy chose. With two classes, margin and entropy
rank items identically, so their curves coincide."""),
        code("""curves = race(pool, ["orange", "blue"], "truth", features=["x1", "x2"],
              strategies=["margin", "entropy", "random"], budget=60, repeats=8, eval_every=10)
race_chart(race_summary(curves), area_under_curve(curves))"""),
        code("""area_under_curve(curves)"""),
        md("""**What to say in class:** if the intervals of margin and random overlap, this data
and budget do not show a difference; run more repetitions before claiming one. On some
data sets uncertainty sampling does *worse* than random (noisy labels, a model that does
not fit the task): the random line is there so nobody has to take the method on faith.

## 4. A fallible human

People make mistakes. Give the oracle 20% label noise and compare."""),
        code("""noisy = hw.Session(pool, classes=["orange", "blue"], features=["x1", "x2"],
                   truth="truth", store=":memory:", random_state=0)
noisy.simulate(40, noise=0.2, random_state=1)
clean_acc = session.history_[-1].truth_accuracy
noisy_acc = noisy.history_[-1].truth_accuracy
print(f"accuracy on the rest of the pool: clean oracle {clean_acc:.3f}, "
      f"20% noise {noisy_acc:.3f}")"""),
    ],
)

write(
    "bias_audit.ipynb",
    [
        md("""# A slice-level bias audit

An analyst has a loan-approval pool and a model. The question is not only "how accurate
is it?" but "how accurate is it **for whom**?", with intervals honest about how little
is known for small groups.

The data are generated offline (`hitl_widgets.datasets.loan_applications`): group B is a
minority (about 20%) whose income is self-reported, so the model sees its key feature
through noise. Reviewers label a sample; the audit estimates accuracy and disagreement
per subgroup, reviews the weakest slice, and sets routing thresholds per group."""),
        code("""import hitl_widgets as hw
from hitl_widgets.charts.routing import routing_chart
from hitl_widgets.datasets import loan_applications

loans = loan_applications(3000, random_state=0)
loans.groupby("group")["truth"].value_counts(normalize=True).unstack().round(3)"""),
        md("""`truth` is the answer key. Here it stands in for the reviewers (a simulated oracle)
and gives a held-out check of the estimates; in a real audit you would have only the
reviewers' labels, and the **random audit** share of the queue (`audit_share`) would be
your unbiased estimate."""),
        code("""features = ["income", "debt_ratio", "years_employed", "amount", "age"]
audit = hw.Session(loans, classes=["defaulted", "repaid"], features=features,
                   subgroups=["group", "age"], truth="truth", audit_share=0.25,
                   store="bias-audit-labels.sqlite", random_state=0)
audit.simulate(160)   # the reviewers' first 160 labels
hw.Dashboard(audit)"""),
        md("""## Accuracy per subgroup, with intervals

`source` says where each number comes from. Small groups are flagged, not ranked."""),
        code("""metrics = audit.metrics()
metrics["accuracy_by_subgroup"].round(3)"""),
        code("""metrics["disagreement_by_subgroup"].round(3)"""),
        md("""## Review the weakest slice

Group B has the lowest accuracy and the widest interval. Focus the labeler on it (this
is what clicking its bar in the dashboard does) and label 60 more there."""),
        code("""audit.focus({"group": "B"})
audit.simulate(60)
audit.focus(None)
audit.metrics()["accuracy_by_subgroup"].query("column == 'group'").round(3)"""),
        md("""## Routing per subgroup

Where may the model decide alone? For each threshold: the share of unlabeled items the
model would auto-accept, and the accuracy of that part (from the random audit labels,
with a Wilson band; from calibration; and from the held-out answer key)."""),
        code("""routing_chart(audit.routing_curve(), threshold=0.9)"""),
        code("""per_group = audit.routing_curve([0.8, 0.9, 0.95], by="group")
per_group[["subgroup", "threshold", "automation_rate", "audit_accuracy", "audit_low",
           "audit_high", "audit_n", "truth_accuracy"]].round(3)"""),
        md("""A stricter threshold for group B keeps its auto-accepted decisions as reliable as
A's. Items below the threshold go to people (the labeler's queue now holds only them)."""),
        code("""routes = audit.route(0.9, per_subgroup={"group": {"B": 0.97}}, escalate_below=0.6,
                     export="bias-audit-routes.csv")
routes.groupby([loans["group"], routes["route"]]).size().unstack(fill_value=0)"""),
    ],
)

write(
    "team_labeling.ipynb",
    [
        md("""# Team labeling: two annotators, agreement, adjudication

Two people label the same project, each in their own notebook; here both sit in one
notebook for the demo. Every item gets **two independent opinions** (`overlap=2`), items
are claimed atomically so nobody is handed more than the overlap asks for, neither
annotator sees the other's labels, and a reviewer resolves disagreements.

For a real team, point `store=` at PostgreSQL
(`store="postgresql://user@host/labels"`): the same tables, with row-level claims.
Here an SQLite file is shared, which works the same way on one machine."""),
        code("""import hitl_widgets as hw
from hitl_widgets.datasets import product_reviews

reviews = product_reviews(400, random_state=1)
team = dict(classes=["neg", "pos"], features="text", subgroups="category",
            store="team-labels.sqlite", overlap=2, random_state=0)
ana = hw.Session(reviews, annotator="ana", **team)
bo = hw.Session(reviews, annotator="bo", **team)"""),
        md("""Ana is careful; Bo is in a hurry (20% of his answers are wrong). Both are simulated
here, through the same claim-and-submit path their widgets would use."""),
        code("""for _ in range(4):
    ana.simulate(15, oracle="truth", random_state=1)
    bo.simulate(15, oracle="truth", noise=0.2, random_state=2)
ana.sync()
len(ana.opinions), ana.opinions["annotator"].value_counts().to_dict()"""),
        md("""## Agreement

Pairwise Cohen's kappa, Fleiss' kappa and Krippendorff's alpha (nominal), overall and
per product category; and per annotator, agreement with the consensus."""),
        code("""ana.agreement(by="category").round(3)"""),
        code("""report = ana.annotator_report()
report[["annotator", "n_labels", "consensus_rate", "consensus_low", "consensus_high",
        "n_blind", "blind_agreement", "rubber_stamp_flag"]].round(3)"""),
        md("""## Adjudication

Items whose opinions disagree wait for a reviewer. The reviewer's labeler shows each
item with the opinions; her label resolves it, recording who decided and from which
opinions."""),
        code("""rev = hw.Session(reviews, annotator="rev", role="reviewer", **team)
rev.adjudication_queue().head()"""),
        code("""hw.Labeler(rev, mode="adjudicate")"""),
        code("""for item_id in rev.adjudication_queue().index[:5]:  # the reviewer decides five here
    rev.resolve(item_id, reviews.loc[item_id, "truth"])
rev.events.query("action == 'resolve'")[["item_id", "annotator", "label", "basis"]].head()"""),
        md("""## Likely label errors

Confident learning over cross-validated probabilities flags labeled items whose label
is probably wrong. They go to a review queue; a correction is a new event, never an edit."""),
        code("""issues = rev.label_issues()
issues[issues["is_issue"]].head(10)"""),
        code("""hw.Labeler(rev, mode="review")"""),
    ],
)
