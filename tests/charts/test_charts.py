"""Dashboard charts, asserted on their Vega-Lite specs (`chart.to_dict()`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.charts import baseline_for, dashboard_charts
from hitl_widgets.charts.accuracy import accuracy_chart
from hitl_widgets.charts.disagreement import disagreement_chart
from hitl_widgets.core.metrics import SMALL_GROUP, SOURCE_CV
from hitl_widgets.datasets import loan_applications

FEATURES = ["income", "debt_ratio", "years_employed", "amount", "age"]
CHARTS = [
    "accuracy",
    "disagreement",
    "accuracy_by_subgroup",
    "annotator_disagreement",
    "uncertainty",
    "uncertainty_trend",
    "need_human",
    "balance",
    "coverage",
]
# chart name -> the metrics table it draws
TABLE_OF = {
    "disagreement": "disagreement_by_subgroup",
    "accuracy_by_subgroup": "accuracy_by_subgroup",
    "uncertainty": "uncertainty_distribution",
    "uncertainty_trend": "uncertainty_trend",
    "need_human": "uncertainty_by_subgroup",
    "balance": "label_balance",
    "coverage": "coverage_by_subgroup",
}


def make_session(n: int, truth: str | None = "truth") -> hw.Session:
    return hw.Session(
        loan_applications(n),
        classes=["repaid", "defaulted"],
        features=FEATURES,
        subgroups=["group", "age"],
        truth=truth,
        store=":memory:",
        audit_share=0.2,
        random_state=0,
    )


@pytest.fixture(scope="module")
def session() -> hw.Session:
    s = make_session(800)
    s.simulate(40)
    return s


@pytest.fixture(scope="module")
def specs(session) -> dict[str, dict]:
    return {name: chart.to_dict() for name, chart in dashboard_charts(session).items()}


def expected_records(table: pd.DataFrame) -> list[dict]:
    """What the chart should inline: the table's rows, NaN -> None, numpy -> Python."""
    rows = []
    for row in table.to_dict("records"):
        plain = {}
        for key, value in row.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and math.isnan(value):
                value = None
            plain[str(key)] = value
        rows.append(plain)
    return rows


def layers(spec: dict) -> list[dict]:
    """The unit specs of a single, layered or faceted(layered) chart."""
    inner = spec.get("spec", spec)
    return inner.get("layer", [inner])


def mark_type(unit: dict) -> str:
    mark = unit["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def fields(unit: dict) -> dict[str, tuple[str, str | None]]:
    """channel -> (field, type) for every field encoding (conditions/values skipped)."""
    return {
        channel: (enc["field"], enc.get("type"))
        for channel, enc in unit["encoding"].items()
        if isinstance(enc, dict) and "field" in enc
    }


def subtitle(spec: dict) -> str:
    return " ".join(spec["title"]["subtitle"])


RATE_BARS = [
    (
        "bar",
        {"x": ("rate", "quantitative"), "y": ("subgroup", "nominal")},
    ),
    ("rule", {"x": ("low", "quantitative"), "x2": ("high", None), "y": ("subgroup", "nominal")}),
    (
        "text",
        {
            "x": ("high", "quantitative"),
            "y": ("subgroup", "nominal"),
            "text": ("n_text", "nominal"),
        },
    ),
]

EXPECTED_MARKS = {
    "accuracy": [
        (
            "area",
            {
                "x": ("n_labels", "quantitative"),
                "y": ("low", "quantitative"),
                "y2": ("high", None),
                "color": ("source", "nominal"),
            },
        ),
        (
            "line",
            {
                "x": ("n_labels", "quantitative"),
                "y": ("estimate", "quantitative"),
                "color": ("source", "nominal"),
                "strokeDash": ("source", "nominal"),
            },
        ),
    ],
    "disagreement": RATE_BARS,
    "annotator_disagreement": RATE_BARS,
    "accuracy_by_subgroup": RATE_BARS,
    "uncertainty": [
        (
            "bar",
            {
                "x": ("bin_start", "quantitative"),
                "x2": ("bin_end", None),
                "y": ("count", "quantitative"),
            },
        )
    ],
    "uncertainty_trend": [
        ("line", {"x": ("n_labels", "quantitative"), "y": ("mean_uncertainty", "quantitative")})
    ],
    "need_human": [("bar", {"x": ("need_human", "quantitative"), "y": ("subgroup", "nominal")})],
    "balance": [("bar", {"x": ("n", "quantitative"), "y": ("label", "nominal")})],
    "coverage": [("bar", {"x": ("share", "quantitative"), "y": ("subgroup", "nominal")})],
}


def test_dashboard_has_every_chart(specs):
    assert list(specs) == CHARTS
    for spec in specs.values():
        json.dumps(spec)  # JSON-safe: no NaN, no numpy scalars
        assert "NaN" not in json.dumps(spec)


@pytest.mark.parametrize("name", CHARTS)
def test_marks_and_encodings(specs, name):
    units = layers(specs[name])
    got = [(mark_type(unit), fields(unit)) for unit in units]
    expected = EXPECTED_MARKS[name]
    assert [m for m, _ in got] == [m for m, _ in expected]
    for (_, channels), (_, wanted) in zip(got, expected, strict=True):
        for channel, field_type in wanted.items():
            assert channels[channel] == field_type, (name, channel)


@pytest.mark.parametrize("name", ["disagreement", "accuracy_by_subgroup", "need_human", "coverage"])
def test_subgroup_charts_facet_by_column_with_independent_axes(specs, name):
    spec = specs[name]
    assert spec["facet"]["row"]["field"] == "column"
    assert spec["facet"]["row"]["type"] == "nominal"
    assert spec["resolve"]["scale"]["y"] == "independent"


def test_disagreement_chart_has_the_subgroup_point_selection(specs):
    spec = specs["disagreement"]
    params = {p["name"]: p for p in spec["params"]}
    assert "subgroup" in params
    select = params["subgroup"]["select"]
    assert select["type"] == "point"
    assert select["fields"] == ["column", "subgroup"]
    bar = layers(spec)[0]
    assert bar["name"] in params["subgroup"]["views"]
    assert bar["encoding"]["opacity"]["condition"]["param"] == "subgroup"
    assert bar["mark"]["cursor"] == "pointer"
    # accuracy bars are not clickable: no selection there
    assert "params" not in specs["accuracy_by_subgroup"]


def test_disagreement_selection_starts_at_the_focused_slice(session):
    table = session.metrics()["disagreement_by_subgroup"]
    spec = disagreement_chart(table, ("group", "B")).to_dict()
    (param,) = spec["params"]
    assert param["value"] == [{"column": "group", "subgroup": "B"}]
    assert "value" not in disagreement_chart(table).to_dict()["params"][0]


def test_titles_state_the_sample(specs):
    accuracy = subtitle(specs["accuracy"])
    assert "biased" in accuracy and "cross-validated" in accuracy
    assert "unbiased" in accuracy and "Wilson" in accuracy
    legend = specs["accuracy"]["layer"][1]["encoding"]["color"]["scale"]["domain"]
    assert SOURCE_CV in legend and "biased" in SOURCE_CV
    disagreement = subtitle(specs["disagreement"])
    assert "Wilson" in disagreement and "before the label" in disagreement
    assert f"n < {SMALL_GROUP}" in disagreement
    by_group = subtitle(specs["accuracy_by_subgroup"])
    assert "held-out truth" in by_group and "every unlabeled item" in by_group
    assert "Wilson" in by_group
    assert "margin" in subtitle(specs["uncertainty"])
    assert "unlabeled" in subtitle(specs["uncertainty"])
    assert "0.90" in subtitle(specs["need_human"])
    for name in CHARTS:
        if name == "annotator_disagreement":  # one annotator here: honestly empty
            assert specs[name]["title"]["text"].startswith("no annotator disagreement")
            continue
        assert not specs[name]["title"]["text"].startswith("no "), name


@pytest.mark.parametrize("name", list(TABLE_OF))
def test_inline_data_equals_the_metrics_table(session, specs, name):
    table = session.metrics()[TABLE_OF[name]]
    assert len(table) > 0
    assert specs[name]["data"]["values"] == expected_records(table)


def test_accuracy_data_equals_estimates_plus_baseline(session, specs):
    accuracy = session.metrics()["accuracy"]
    baseline = baseline_for(session)
    expected = expected_records(pd.concat([accuracy, baseline], ignore_index=True))
    assert specs["accuracy"]["data"]["values"] == expected
    sources = {row["source"] for row in expected}
    assert {"held-out truth", "random audit", SOURCE_CV} <= sources


def test_nan_becomes_null_in_the_inline_data():
    table = pd.DataFrame(
        {
            "column": ["group", "group"],
            "subgroup": ["A", "B"],
            "n": [12, 0],
            "successes": [3, 0],
            "rate": [0.25, np.nan],
            "low": [0.09, np.nan],
            "high": [0.53, np.nan],
            "small": [False, True],
        }
    )
    values = disagreement_chart(table).to_dict()["data"]["values"]
    assert values == expected_records(table)
    assert values[1]["rate"] is None and values[1]["low"] is None
    assert isinstance(values[0]["n"], int) and isinstance(values[0]["small"], bool)


@pytest.mark.parametrize("name", ["disagreement", "accuracy_by_subgroup"])
def test_small_groups_are_flagged_and_greyed(specs, name):
    values = specs[name]["data"]["values"]
    for row in values:
        assert row["small"] is (row["n"] < SMALL_GROUP)
    bar = layers(specs[name])[0]
    assert bar["encoding"]["color"]["condition"]["test"] == "datum.small"
    calculate = {t["as"]: t["calculate"] for t in specs[name]["spec"]["transform"]}
    assert calculate["rank"] == "datum.small ? -1 : datum.rate"  # small groups sorted last


def test_disagreement_has_a_small_group_here(specs):
    # 40 labels over group A/B (B ~20%) and four age bins: some slices are under 10
    assert any(row["small"] for row in specs["disagreement"]["data"]["values"])


def test_empty_session_charts_are_valid_and_say_why():
    fresh = make_session(300)
    specs = {name: chart.to_dict() for name, chart in dashboard_charts(fresh).items()}
    assert list(specs) == CHARTS
    waiting = {
        "disagreement": "no disagreement yet",
        "accuracy_by_subgroup": "no accuracy by subgroup yet",
        "uncertainty": "no uncertainty yet",
        "uncertainty_trend": "no trend yet",
        "need_human": "no routing estimate yet",
    }
    for name, prefix in waiting.items():
        assert specs[name]["title"]["text"].startswith(prefix), name
        assert specs[name]["data"]["values"] == [], name
    # balance and coverage are meaningful with zero labels: zeros per class / subgroup
    assert [row["n"] for row in specs["balance"]["data"]["values"]] == [0, 0]
    assert all(row["labeled"] == 0 for row in specs["coverage"]["data"]["values"])
    # the accuracy chart already shows the random-sampling baseline (truth is known)
    sources = {row["source"] for row in specs["accuracy"]["data"]["values"]}
    assert sources <= {"random-sampling baseline (truth)"}


def test_empty_accuracy_chart_without_truth_says_why():
    fresh = make_session(300, truth=None)
    spec = dashboard_charts(fresh)["accuracy"].to_dict()
    assert (
        spec["title"]["text"] == "no accuracy estimate yet: needs a fitted model and some evidence"
    )
    assert spec["data"]["values"] == []
    assert [mark_type(unit) for unit in spec["layer"]] == ["area", "line"]
    direct = accuracy_chart(pd.DataFrame(), None).to_dict()
    assert direct["title"]["text"].startswith("no accuracy estimate yet")


def test_payload_does_not_grow_with_the_pool():
    sizes = {}
    for n in (2_000, 100_000):
        s = make_session(n)
        s.simulate(30)
        assert len(s.current_label_events()) == 30
        sizes[n] = {name: len(json.dumps(c.to_dict())) for name, c in dashboard_charts(s).items()}
        s.close()
    small, large = sizes[2_000], sizes[100_000]
    for name in CHARTS:
        assert abs(large[name] - small[name]) <= 0.1 * small[name], (name, small, large)
    assert sum(large.values()) <= 1.1 * sum(small.values())
