"""The analyses a Session offers, each one function of one consistent snapshot.

`Session` inherits these so a notebook reads `session.estimate()`; the work lives in
`core.analysis`, where every function takes a `Snapshot` and never the Session. This
class only names them, checks their arguments and syncs a team store first where the
answer depends on what teammates labeled.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .analysis.estimates import estimate
from .analysis.label_errors import label_issues
from .analysis.metrics import accuracy_estimates, all_metrics
from .analysis.routing import guaranteed_thresholds, routing_curve
from .analysis.slices import find_slices
from .analysis.stopping import stopping
from .analysis.team import adjudication_queue, team_agreement, team_report
from .config import check_count
from .snapshot import Snapshot


class Reports:
    """Mixin: read-only analyses of `self.snapshot()`."""

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def sync(self) -> int:
        raise NotImplementedError

    def metrics(self, estimate: bool = True) -> dict[str, pd.DataFrame]:
        """The tidy tables behind every chart; see `hitl_widgets.core.analysis.metrics`.

        `estimate=False` skips the current model's accuracy estimate when it is not known
        yet (a cross-fit: the slow part): the accuracy table then holds the points so far.
        """
        return all_metrics(self.snapshot(), estimate)

    def accuracy(self) -> pd.DataFrame:
        """Accuracy vs labels per source of evidence, each with its interval (the table
        of the accuracy chart; see `analysis.metrics.accuracy_estimates`)."""
        return accuracy_estimates(self.snapshot())

    def routing_curve(
        self, thresholds: Sequence[float] | None = None, by: str | None = None
    ) -> pd.DataFrame:
        """Automation rate vs expected accuracy per threshold; see `analysis.routing`."""
        return routing_curve(self.snapshot(), thresholds, by)

    def guarantee(
        self, max_error: float = 0.05, delta: float = 0.1, by: str | None = None
    ) -> pd.DataFrame:
        """The lowest confidence threshold (per subgroup of `by`) whose auto-accepted
        error is at most `max_error` with probability at least 1 - delta, with its
        evidence, or a note saying how many more audit labels it takes. Nothing is
        routed: `route(max_error=...)` acts on it. See `analysis.routing`."""
        return guaranteed_thresholds(self.snapshot(), max_error, delta, by)

    def estimate(
        self, metric: str = "accuracy", by: str | None = None, level: float = 0.95
    ) -> pd.DataFrame:
        """The current model's accuracy ("error_rate", "recall" per class) on the unlabeled
        items, with a `level` interval, overall or per subgroup of `by`; every randomly
        drawn label counts, weighted by its selection probability. See `analysis.estimates`.
        """
        return estimate(self.snapshot(), metric, by, level)

    def find_slices(
        self,
        columns: str | Sequence[str] | None = None,
        max_order: int = 2,
        min_size: int | None = None,
        k: int = 10,
        alpha: float = 0.05,
    ) -> pd.DataFrame:
        """The worst slices (conjunctions of up to `max_order` column values) by the
        model's error on random audit labels, Holm-corrected over every slice tried;
        `focus(row)` asks inside one. See `analysis.slices.find_slices`."""
        return find_slices(self.snapshot(), columns, max_order, min_size, k, alpha)

    def stopping(self) -> pd.DataFrame:
        """The stopping meter: do successive models agree on a fixed stop set, what did the
        last half of the labels gain, and should labeling stop. See `analysis.stopping`."""
        return stopping(self.snapshot())

    def label_issues(self, cv: int = 5) -> pd.DataFrame:
        """Labeled items whose label is probably wrong (confident learning), most
        suspicious first. Review them with `Labeler(session, mode="review")`."""
        return label_issues(self.snapshot(), check_count(cv, "cv", minimum=2))

    def adjudication_queue(self) -> pd.DataFrame:
        """Items whose opinions disagree and that no reviewer has resolved yet."""
        self.sync()
        return adjudication_queue(self.snapshot())

    def agreement(self, by: str | None = None) -> pd.DataFrame:
        """Cohen, Fleiss and Krippendorff agreement, overall and per subgroup of `by`."""
        self.sync()
        return team_agreement(self.snapshot(), by)

    def annotator_report(self) -> pd.DataFrame:
        """Per annotator: agreement with consensus and the rubber-stamp signal."""
        self.sync()
        return team_report(self.snapshot())
