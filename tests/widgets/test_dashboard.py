"""The dashboard and `hw.show` without a browser: driven through traits and comm messages.

What Python sends is recorded by replacing each widget's `comm.send`; what the browser
sends is fed through `comm.handle_msg`, the way a real comm delivers it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import altair as alt
import IPython.display
import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.charts import MAIN, MORE
from hitl_widgets.datasets import loan_applications, product_reviews
from hitl_widgets.widgets.chart import SVG_MIME, Chart, VegaRuntime, vega_runtime

FEATURES = ["income", "debt_ratio", "years_employed", "amount", "age"]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def loans_session(**kwargs) -> hw.Session:
    return hw.Session(
        loan_applications(800),
        classes=["defaulted", "repaid"],
        features=FEATURES,
        subgroups=["group", "age"],
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.2,
        **kwargs,
    )


class Wire:
    """Every state update the dashboard's dataset models send, by dataset name."""

    def __init__(self, dashboard: hw.Dashboard):
        self.sent: list[tuple[str, int]] = []
        for name, rows in dashboard.data.items():
            rows.comm.send = self._recorder(name)
        dashboard.comm.send = lambda *a, **k: None

    def _recorder(self, name: str):
        def send(data=None, metadata=None, buffers=None):
            self.sent.append((name, len(json.dumps(data))))

        return send

    def names(self) -> set[str]:
        return {name for name, _ in self.sent}

    def take(self) -> list[tuple[str, int]]:
        sent, self.sent = self.sent, []
        return sent


def until(condition, timeout: float = 60.0) -> None:
    """Poll: a fit's observers may run just after `Session.wait` returns."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def caught_up(d: hw.Dashboard) -> bool:
    """The dashboard shows the session's current labels and model, and is idle."""
    s = d.session.status
    shown = d.status
    return (
        d.wait(timeout=60)
        and s.fit_state != "fitting"
        and (shown["labeled"], shown["model_version"]) == (s.n_labeled, s.model_version)
    )


def settle(d: hw.Dashboard) -> None:
    d.session.wait()
    until(lambda: caught_up(d))


def inline_data(spec):
    """Every `data` object of a spec that carries rows itself."""
    if isinstance(spec, list):
        for item in spec:
            yield from inline_data(item)
    elif isinstance(spec, dict):
        for key, value in spec.items():
            if key == "data" and isinstance(value, dict) and "values" in value:
                yield value
            else:
                yield from inline_data(value)


def browser_says(widget, content: dict) -> None:
    """A custom message from the front end, delivered through the widget's comm."""
    widget.comm.handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


@pytest.fixture
def session() -> Iterator[hw.Session]:
    s = loans_session()
    yield s
    s.close()


@pytest.fixture
def trained(session) -> hw.Session:
    session.simulate(40)
    session.wait()
    return session


def test_specs_are_built_once_and_carry_no_rows(trained):
    d = hw.Dashboard(trained)
    assert list(d.specs) == [*MAIN, *MORE]
    assert d.sections["main"] == list(MAIN)
    assert [name for name, _ in d.sections["more"]] == list(MORE)
    for spec in d.specs.values():
        assert "datasets" not in spec and not list(inline_data(spec))
    specs = json.dumps(d.specs, sort_keys=True)
    trained.simulate(5)
    settle(d)
    assert json.dumps(d.specs, sort_keys=True) == specs  # a redraw never touches a spec
    # every dataset a spec reads has its rows model, and the rows are current
    for name, rows in d.data.items():
        assert isinstance(rows.rows, list), name
    assert d.data["balance"].rows == [
        {"label": row.label, "n": int(row.n)}
        for row in trained.metrics()["label_balance"].itertuples()
    ]
    d.close()


def test_a_redraw_sends_only_the_datasets_that_changed(session):
    d = hw.Dashboard(session)
    wire = Wire(d)
    d.redraw()
    assert wire.take() == []  # nothing changed, nothing sent
    session.simulate(30)
    settle(d)
    assert {"accuracy", "disagreement", "uncertainty", "balance"} <= wire.names()
    assert d.status["labeled"] == 30 and d.status["fit_state"] == "ready"
    wire.take()
    session.focus({"group": "B"})
    assert d.wait(timeout=30)
    assert wire.names() == {"disagreement"}  # the dimmed bars; metrics are not recomputed
    dimmed = {
        row["subgroup"]: row["dimmed"]
        for row in d.data["disagreement"].rows
        if row["column"] == "group"
    }
    assert dimmed == {"A": True, "B": False}
    assert d.status["focused"] == [["group", "B"]]
    d.close()


def test_redraw_bytes_are_small(trained):
    d = hw.Dashboard(trained)
    wire = Wire(d)
    trained.simulate(1)
    settle(d)
    sent = wire.take()
    assert sent and sum(size for _, size in sent) < 50_000, sent
    d.close()


def test_clicking_a_subgroup_focuses_the_labeler(session):
    labeler = hw.Labeler(session, window=20)
    labeler.comm.send = lambda *a, **k: None
    d = hw.Dashboard(session)
    Wire(d)
    browser_says(
        d,
        {"kind": "select", "chart": "disagreement", "values": {"column": "group", "subgroup": "B"}},
    )
    assert session.focused == {"group": "B"}
    shown = [item["id"] for item in labeler.items]
    assert shown and (session.data.loc[shown, "group"] == "B").all()
    assert d.wait(timeout=30)
    assert d.status["focused"] == [["group", "B"]]
    browser_says(d, {"kind": "clear_focus"})
    assert session.focused is None
    assert d.wait(timeout=30)
    assert d.status["focused"] is None
    # clicks on other charts, malformed and unknown subgroups change nothing
    browser_says(
        d, {"kind": "select", "chart": "coverage", "values": {"column": "group", "subgroup": "A"}}
    )
    browser_says(d, {"kind": "select", "chart": "disagreement", "values": ["group", "A"]})
    assert session.focused is None
    browser_says(
        d,
        {"kind": "select", "chart": "disagreement", "values": {"column": "group", "subgroup": "Z"}},
    )
    assert session.focused is None
    assert d.status["error"].startswith("could not focus")
    d.close()


def test_a_failed_redraw_is_shown_and_the_next_one_recovers(trained, monkeypatch):
    d = hw.Dashboard(trained)
    Wire(d)
    metrics = trained.metrics
    calls = {"n": 0}

    def fails_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("metrics exploded <b>here</b>")
        return metrics(**kwargs)

    monkeypatch.setattr(trained, "metrics", fails_once)
    trained.simulate(1)
    until(lambda: d.failure is not None)
    assert d.status["error"] == "charts not redrawn: RuntimeError: metrics exploded <b>here</b>"
    redraws = d.redraws
    trained.simulate(1)
    settle(d)
    assert d.failure is None and d.status["error"] is None
    assert d.redraws > redraws and d.status["labeled"] == 42
    d.close()


def test_routing_slider_moves_the_rule_and_says_what_it_means(session):
    d = hw.Dashboard(session)
    wire = Wire(d)
    assert d.status["routing"] == "routing needs a fitted model"
    assert "fitted model" in d.data["routing_note"].rows[0]["text"].replace("\n", " ")
    session.simulate(40)
    settle(d)
    # the curve (a pass over the pool per threshold) waits until the tab is opened
    assert d.data["routing"].rows == []
    assert "Routing tab" in d.data["routing_note"].rows[0]["text"].replace("\n", " ")
    browser_says(d, {"kind": "opened", "chart": "routing"})
    assert d.wait(timeout=60)
    assert d.data["routing"].rows and d.data["routing_note"].rows == []
    assert d.status["routing"].startswith("At 0.90 the model would label ")
    # ...and what can be guaranteed, or how many audit labels a guarantee still needs
    assert re.search(
        r"Guaranteed: at 0\.\d\d or above|No threshold can be guaranteed", d.status["routing"]
    )
    # the header carries the stopping meter's words
    assert d.status["stopping"]["recommendation"] in ("stop", "could stop", "continue", "too early")
    wire.take()
    d.threshold = 0.83
    assert d.wait(timeout=30)
    assert d.data["routing_rule"].rows == [{"threshold": 0.83}]
    assert wire.names() <= {"routing", "routing_rule"}
    assert d.status["routing"].startswith("At 0.83 the model would label ")
    assert "%" in d.status["routing"]
    d.close()


def test_close_stops_redrawing(session):
    d = hw.Dashboard(session)
    Wire(d)
    d.close()
    redraws = d.redraws
    session.simulate(5)
    session.wait()
    assert d.redraws == redraws
    assert all(rows.comm is None for rows in d.data.values())


def test_one_runtime_per_kernel_and_outputs_carry_an_svg(trained):
    first, second = hw.Dashboard(trained), hw.Dashboard(trained)
    chart = Chart(alt.Chart(pd.DataFrame({"a": [1, 2]})).mark_bar().encode(x="a:Q"))
    assert first.runtime is second.runtime is chart.runtime is vega_runtime()
    assert isinstance(first.runtime, VegaRuntime)
    # vega travels once, in the runtime's code; the chart widgets' own code is small
    assert len(first.runtime.get_state("_esm")["_esm"]) > 500_000
    assert len(first.get_state("_esm")["_esm"]) < 50_000
    assert len(chart.get_state("_esm")["_esm"]) < 50_000
    data, _ = first._repr_mimebundle_()
    assert data[WIDGET_MIME]["model_id"] == first.model_id
    svg = data[SVG_MIME]
    assert svg.startswith("<svg") and "Disagreement by subgroup" in svg
    assert "<script" not in json.dumps(data)
    data, _ = chart._repr_mimebundle_()
    assert data[SVG_MIME].startswith("<svg") and WIDGET_MIME in data
    for widget in (first, second, chart):
        widget.close()


def test_show_displays_any_chart_offline(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    user_chart = (
        alt.Chart(pd.DataFrame({"x": [1, 2, 3], "y": [3, 1, 2]})).mark_line().encode(x="x", y="y")
    )
    assert hw.show(user_chart) is None
    (widget,) = shown
    assert isinstance(widget, Chart)
    assert widget.spec == user_chart.to_dict()
    assert "<script" not in json.dumps(widget.spec)
    widget.close()


def test_text_pool_and_the_one_line_helper():
    app = hw.label(
        product_reviews(200),
        classes=["neg", "pos"],
        features="text",
        subgroups="category",
        truth="truth",
        store=":memory:",
        random_state=0,
        highlight=["not"],
    )
    assert app.labeler.session is app.session and app.dashboard.session is app.session
    app.session.simulate(10)
    settle(app.dashboard)
    assert app.dashboard.status["labeled"] == 10
    assert app.dashboard.data["uncertainty"].rows
    app.close()


def planted_session() -> hw.Session:
    """Truth follows x0 except inside region = east & plan = pro (~8%), where it flips."""
    rng = np.random.default_rng(0)
    n = 1500
    df = pd.DataFrame(
        {
            "x0": rng.normal(size=n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "plan": rng.choice(["basic", "plus", "pro"], n),
        },
        index=[f"c{i:04d}" for i in range(n)],
    )
    inside = (df["region"] == "east") & (df["plan"] == "pro")
    df["truth"] = np.where((df["x0"] > 0) ^ inside, "pos", "neg")
    return hw.Session(
        df,
        ["neg", "pos"],
        features=["x0"],
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.5,
        progress=False,
    )


def test_worst_slices_are_searched_when_opened_and_a_click_focuses_one():
    session = planted_session()
    d = hw.Dashboard(session)
    Wire(d)
    session.simulate(200)
    settle(d)
    assert d.data["worst_slices"].rows == []  # the lattice search waits for its tab
    assert "opened" in d.data["worst_slices_note"].rows[0]["text"].replace("\n", " ")
    browser_says(d, {"kind": "opened", "chart": "worst_slices"})
    assert d.wait(timeout=60)
    rows = d.data["worst_slices"].rows
    top = rows[0]
    assert json.loads(top["where"]) == {"plan": "pro", "region": "east"}
    assert top["verdict"] == "worse than the rest" and not top["small"]
    assert top["low"] <= top["rate"] <= top["high"] and top["n"] > 0
    assert d.data["worst_slices_note"].rows == []
    browser_says(d, {"kind": "select", "chart": "worst_slices", "values": {"where": top["where"]}})
    assert session.focused == {"plan": "pro", "region": "east"}
    assert d.wait(timeout=60)
    rows = d.data["worst_slices"].rows
    assert not rows[0]["dimmed"] and all(r["dimmed"] for r in rows[1:])
    queued = session.data.loc[session.queue(10).index]
    assert ((queued["region"] == "east") & (queued["plan"] == "pro")).all()
    # malformed clicks change nothing
    session.focus(None)
    for values in ({"where": "{not json"}, {"where": '{"plan": 3}'}, {"where": ["plan"]}, {}):
        browser_says(d, {"kind": "select", "chart": "worst_slices", "values": values})
    assert session.focused is None
    d.close()
    session.close()
