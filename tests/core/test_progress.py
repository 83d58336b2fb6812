"""Progress: a bar only for work that lasts, listeners always."""

from __future__ import annotations

import tqdm.auto

from hitl_widgets.core import progress as progress_module
from hitl_widgets.core.progress import Progress


class Bars:
    """Stands in for tqdm.auto.tqdm: records the bars made and their updates."""

    def __init__(self) -> None:
        self.made: list[dict] = []

    def __call__(self, **kwargs):
        record = {**kwargs, "updates": 0, "closed": False}
        self.made.append(record)

        class Bar:
            def update(self, n):
                record["updates"] += n

            def close(self):
                record["closed"] = True

        return Bar()


def test_short_work_makes_no_bar_but_tells_listeners(monkeypatch):
    bars = Bars()
    monkeypatch.setattr(tqdm.auto, "tqdm", bars)
    seen = []
    p = Progress(show=True)
    p.listen(seen.append)
    with p.task(3, "labeling") as advance:
        for _ in range(3):
            advance(1)
    assert bars.made == []  # no widget for work under SHOW_AFTER_SECONDS
    assert str(seen[-2]) == "labeling 100%" and seen[-1] is None


def test_long_work_gets_a_bar_that_starts_where_the_work_is(monkeypatch):
    bars = Bars()
    monkeypatch.setattr(tqdm.auto, "tqdm", bars)
    monkeypatch.setattr(progress_module, "SHOW_AFTER_SECONDS", 0.0)
    with Progress(show=True).task(5, "vectorizing") as advance:
        for _ in range(5):
            advance(1)
    (bar,) = bars.made
    assert bar["initial"] == 1 and bar["updates"] == 4 and bar["closed"]
    assert bar["desc"] == "vectorizing"


def test_silent_progress_never_makes_a_bar(monkeypatch):
    bars = Bars()
    monkeypatch.setattr(tqdm.auto, "tqdm", bars)
    monkeypatch.setattr(progress_module, "SHOW_AFTER_SECONDS", 0.0)
    with Progress(show=False).task(2, "x") as advance:
        advance(2)
    assert bars.made == []
