"""The dashboard without a browser: redraws, bounded listeners, selection -> focus."""

from __future__ import annotations

import json

import pandas as pd

import hitl_widgets as hw
from hitl_widgets.datasets import loan_applications, product_reviews

FEATURES = ["income", "debt_ratio", "years_employed", "amount", "age"]


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


def spec(dashboard: hw.Dashboard, name: str) -> str:
    return json.dumps(dashboard.charts[name].spec)


def select(dashboard: hw.Dashboard, points: list[dict]) -> None:
    """What the front end does when a bar is clicked (or the selection is cleared)."""
    signal = {"vlPoint": {"or": points}} if points else None
    dashboard.charts["disagreement"]._vl_selections = {"subgroup": {"value": signal, "store": []}}


def test_dashboard_redraws_after_refits():
    s = loans_session()
    d = hw.Dashboard(s)
    before = {name: spec(d, name) for name in d.charts}
    s.simulate(40)
    s.wait()
    assert d.wait(timeout=60)
    assert d.redraws >= 1
    after = {name: spec(d, name) for name in d.charts}
    changed = [name for name in d.charts if before[name] != after[name]]
    assert {"accuracy", "disagreement", "uncertainty", "balance"} <= set(changed)
    assert "40</b> labeled" in d._header.value


def test_listeners_do_not_pile_up_over_many_redraws():
    s = loans_session()
    d = hw.Dashboard(s)
    s.simulate(12)
    assert d.wait(timeout=60)
    observers = len(s._observers)
    charts = dict(d.charts)
    for _ in range(200):
        d.redraw()
    assert len(s._observers) == observers
    assert all(d.charts[name] is charts[name] for name in charts)  # reused, not recreated
    d.close()
    assert len(s._observers) == observers - 1


def test_clicking_a_subgroup_focuses_the_labeler():
    s = loans_session()
    labeler = hw.Labeler(s, window=20)
    labeler.comm.send = lambda *a, **k: None
    d = hw.Dashboard(s)
    select(d, [{"column": "group", "subgroup": "B"}])
    assert s.focused == {"group": "B"}
    shown = [item["id"] for item in labeler.items]
    assert shown and (s.data.loc[shown, "group"] == "B").all()
    assert "group = B" in d._focus_label.value and not d._clear.disabled
    d._clear.click()
    assert s.focused is None
    assert set(s.data.loc[[i["id"] for i in labeler.items], "group"]) == {"A", "B"}
    select(d, [{"column": "group", "subgroup": "A"}])
    select(d, [])  # a redraw's reset looks like this: the focus stays
    assert s.focused == {"group": "A"}
    d._clear.click()
    assert s.focused is None


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
    assert isinstance(app.session, hw.Session)
    assert app.labeler.session is app.session and app.dashboard.session is app.session
    assert app.children == (app.labeler, app.dashboard)
    app.session.simulate(10)
    app.session.wait()
    assert app.dashboard.wait(timeout=60)
    assert app.dashboard.redraws >= 1
    assert isinstance(app.session.metrics()["label_balance"], pd.DataFrame)


def test_routing_slider_moves_the_threshold_and_says_what_it_means():
    s = loans_session()
    d = hw.Dashboard(s)
    assert "need a fitted model" in d._routing_summary.value
    s.simulate(40)
    s.wait()
    assert d.wait(timeout=60)
    d.threshold.value = 0.8
    rule = [layer for layer in d.charts["routing"].spec["layer"] if layer["mark"]["type"] == "rule"]
    assert rule and rule[0]["data"]["values"] == [{"threshold": 0.8}]
    summary = d._routing_summary.value
    assert summary.startswith("at 0.80 the model would label") and "%" in summary


def test_selection_survives_redraws_and_a_redraw_keeps_the_focus():
    s = loans_session()
    d = hw.Dashboard(s)
    s.simulate(15)
    s.wait()
    assert d.wait(timeout=60)
    d.redraw()  # JupyterChart replaces its selections object here
    select(d, [{"column": "group", "subgroup": "A"}])
    assert s.focused == {"group": "A"}
    d.redraw()  # resets the chart's selection: must not read as "cleared by the user"
    assert s.focused == {"group": "A"}
    select(d, [])  # the browser's late reset after the redraw
    assert s.focused == {"group": "A"}
    select(d, [{"column": "group", "subgroup": "B"}])
    assert s.focused == {"group": "B"}
