"""Race, pool-map and routing charts, asserted on their Vega-Lite specs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import hitl_widgets as hw
from hitl_widgets.charts.pool_map import MAX_POINTS, pool_map_chart, pool_map_table
from hitl_widgets.charts.race import race_chart
from hitl_widgets.charts.routing import routing_chart
from hitl_widgets.core.race import area_under_curve, race, race_summary


def pool(n: int) -> pd.DataFrame:
    X, y = make_classification(
        n_samples=n, n_features=4, n_informative=3, n_redundant=0, random_state=0
    )
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["truth"] = np.where(y == 1, "yes", "no")
    return frame


def layer_values(spec: dict) -> list[list[dict]]:
    return [layer["data"]["values"] for layer in spec["layer"] if "data" in layer]


def test_race_chart_draws_the_summary():
    curves = race(
        pool(300),
        ["no", "yes"],
        "truth",
        strategies=["margin", "random"],
        budget=20,
        repeats=2,
        eval_every=10,
    )
    summary, auc = race_summary(curves), area_under_curve(curves)
    spec = race_chart(summary, auc).to_dict()
    assert [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in spec["layer"]
    ] == ["area", "line"]
    values = spec["datasets"][spec["data"]["name"]] if "datasets" in spec else None
    drawn = values or spec["data"]["values"]
    assert len(drawn) == len(summary)
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "95% t interval" in subtitle and "margin" in subtitle


def test_pool_map_payload_is_bounded_and_marks_next_queries():
    sizes = {}
    for n in (3_000, 60_000):
        s = hw.Session(
            pool(n), classes=["no", "yes"], truth="truth", store=":memory:", random_state=0
        )
        s.simulate(20)
        table = pool_map_table(s, "a", "b", next_k=5)
        assert (table["state"] == "next query").sum() == 5
        assert (table["state"] == "labeled").sum() == 20
        assert len(table) <= MAX_POINTS + 25
        spec = pool_map_chart(table, "a", "b", n).to_dict()
        sizes[n] = len(json.dumps(spec))
        assert f"(pool: {n})" in spec["title"]["subtitle"][0]
    assert sizes[60_000] < 1.1 * sizes[3_000]
    with pytest.raises(ValueError, match="not in the pool"):
        pool_map_table(s, "a", "zz")


def test_routing_chart_shows_every_estimate_and_the_threshold():
    s = hw.Session(
        pool(800),
        classes=["no", "yes"],
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.3,
    )
    s.simulate(40)
    curve = s.routing_curve([0.6, 0.8, 0.9])
    spec = routing_chart(curve, threshold=0.8).to_dict()
    rows = spec["datasets"]["routing"]
    assert [row["threshold"] for row in rows] == [0.6, 0.8, 0.9]
    drawn = {key for row in rows for key, value in row.items() if value is not None}
    assert {"automation rate", "accuracy (calibrated)", "accuracy (truth)"} <= drawn
    assert spec["datasets"]["routing_rule"] == [{"threshold": 0.8}]
    rule = spec["layer"][1]
    assert rule["mark"]["type"] == "rule" and rule["data"] == {"name": "routing_rule"}
    assert "unbiased" in spec["usermeta"]["caption"]
