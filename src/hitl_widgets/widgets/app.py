"""`hw.label(df, classes, ...)`: the labeler and the dashboard in one cell."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from ..core.session import Session
from .dashboard import Dashboard
from .labeler import Labeler

LABELER_OPTIONS = ("view", "column", "render", "highlight", "blind", "window", "mode", "claims")


class LabelingApp(w.VBox):
    """A Labeler above a Dashboard, sharing one Session (`.session`, `.labeler`, `.dashboard`)."""

    def __init__(self, session: Session, **labeler_options: Any):
        self.session = session
        self.labeler = Labeler(session, **labeler_options)
        self.dashboard = Dashboard(session)
        super().__init__([self.labeler, self.dashboard])

    def close(self) -> None:
        self.labeler.close()
        self.dashboard.close()
        super().close()


def label(data: pd.DataFrame, classes: Sequence[Hashable], **options: Any) -> LabelingApp:
    """Start labeling `data`: a Session (see `Session` for its options) with its labeler
    (view=, render=, highlight=, blind=, ... go to the `Labeler`) and live dashboard."""
    labeler_options = {k: options.pop(k) for k in LABELER_OPTIONS if k in options}
    return LabelingApp(Session(data, classes, **options), **labeler_options)
