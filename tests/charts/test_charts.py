"""Dashboard charts, asserted on their Vega-Lite specs (`chart.to_dict()`), and rendered
offline with vl-convert where only a drawing can tell (legends, empty states)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import vl_convert

import hitl_widgets as hw
from hitl_widgets.charts import MAIN, MORE, dashboard_charts, dashboard_data, dashboard_specs
from hitl_widgets.charts._slices import MAX_SLICES, NO_SUBGROUPS
from hitl_widgets.charts._style import MAX_POINTS
from hitl_widgets.charts.accuracy import accuracy_chart
from hitl_widgets.charts.disagreement import disagreement_chart
from hitl_widgets.datasets import loan_applications

FEATURES = ["income", "debt_ratio", "years_employed", "amount", "age"]
CHARTS = [*MAIN, *MORE]
# chart name -> the metrics table it draws, and the columns it keeps
TABLE_OF = {
    "disagreement": "disagreement_by_subgroup",
    "accuracy_by_subgroup": "accuracy_by_subgroup",
    "annotator_disagreement": "annotator_disagreement_by_subgroup",
    "need_human": "uncertainty_by_subgroup",
    "coverage": "coverage_by_subgroup",
    "uncertainty": "uncertainty_distribution",
    "balance": "label_balance",
}


def make_session(n: int, truth: str | None = "truth", subgroups=("group", "age")) -> hw.Session:
    return hw.Session(
        loan_applications(n),
        classes=["repaid", "defaulted"],
        features=FEATURES,
        subgroups=list(subgroups) or None,
        truth=truth,
        store=":memory:",
        audit_share=0.2,
        random_state=0,
    )


@pytest.fixture(scope="module")
def session() -> Iterator[hw.Session]:
    s = make_session(800)
    s.simulate(40)
    s.wait()
    yield s
    s.close()


@pytest.fixture(scope="module")
def tables(session) -> dict[str, pd.DataFrame]:
    return session.metrics()


@pytest.fixture(scope="module")
def curve(session) -> pd.DataFrame:
    return session.routing_curve()


@pytest.fixture(scope="module")
def specs(tables, curve) -> dict[str, dict]:
    charts = dashboard_charts(tables, {"group": "A"}, "margin", curve, 0.9)
    return {name: chart.to_dict() for name, chart in charts.items()}


def units(spec: dict) -> Iterator[dict]:
    """The unit specs of a (nested) layered chart, empty-state notes left out."""
    for unit in spec.get("layer", [spec]):
        if "layer" in unit:
            yield from units(unit)
        elif not unit.get("data", {}).get("name", "").endswith("_note"):
            yield unit


def mark_type(unit: dict) -> str:
    mark = unit["mark"]
    return mark["type"] if isinstance(mark, dict) else mark


def fields(unit: dict) -> dict[str, str]:
    return {
        ch: enc["field"]
        for ch, enc in unit["encoding"].items()
        if isinstance(enc, dict) and "field" in enc
    }


def named(spec) -> set[str]:
    """Every dataset name a spec reads."""
    if isinstance(spec, list):
        return set().union(set(), *map(named, spec))
    if not isinstance(spec, dict):
        return set()
    found = set()
    for key, value in spec.items():
        if key == "data" and isinstance(value, dict) and "name" in value:
            found.add(value["name"])
        elif key != "datasets":
            found |= named(value)
    return found


def svg_text(spec: dict) -> str:
    """The text an offline rendering of the chart shows (titles, axes, legends, notes)."""
    svg = vl_convert.vegalite_to_svg({**spec, "width": 320})
    height = float(re.search(r'height="([^"]+)"', svg).group(1))
    assert math.isfinite(height) and 0 < height < 2000, height
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", t).strip() for t in texts)


EXPECTED = {
    "accuracy": [
        ("area", {"x": "n_labels", "y": "low", "y2": "high"}),
        ("line", {"x": "n_labels", "y": "estimate", "color": "source"}),
    ],
    "disagreement": [
        ("bar", {"x": "rate", "y": "slice"}),
        ("rule", {"x": "low", "x2": "high"}),
        ("text", {"x": "high"}),
    ],
    "uncertainty": [("bar", {"x": "bin_start", "x2": "bin_end", "y": "count"})],
    "routing": [
        ("area", {"y": "audit_low", "y2": "audit_high"}),
        ("line", {"x": "threshold", "y": "value", "color": "measure"}),
        ("rule", {"x": "threshold"}),
    ],
    "need_human": [("bar", {"x": "need_human", "y": "slice"})],
    "uncertainty_trend": [("line", {"x": "n_labels", "y": "mean_uncertainty"})],
    "balance": [("bar", {"x": "n", "y": "label"})],
    "coverage": [("bar", {"x": "share", "y": "slice"})],
}


def test_every_chart_in_order_json_safe(specs):
    assert list(specs) == CHARTS
    for spec in specs.values():
        text = json.dumps(spec, allow_nan=False)
        assert "NaN" not in text


@pytest.mark.parametrize("name", list(EXPECTED))
def test_marks_and_encodings(specs, name):
    got = [(mark_type(u), fields(u)) for u in units(specs[name])]
    assert [m for m, _ in got] == [m for m, _ in EXPECTED[name]]
    for (_, channels), (_, wanted) in zip(got, EXPECTED[name], strict=True):
        for channel, field in wanted.items():
            assert channels[channel] == field, (name, channel)


@pytest.mark.parametrize("name", CHARTS)
def test_charts_read_named_datasets_and_carry_exactly_their_rows(specs, tables, curve, name):
    spec = specs[name]
    data = dashboard_data(tables, {"group": "A"}, curve, 0.9)[name]
    assert named(spec) == set(data) == set(spec["datasets"])
    assert spec["datasets"] == data
    # specs do not depend on the rows: built once, reused for every redraw
    bare = dashboard_specs("margin")[name].to_dict()
    assert {k: v for k, v in spec.items() if k != "datasets"} == bare


@pytest.mark.parametrize("name", list(TABLE_OF))
def test_rows_equal_the_metrics_table(tables, specs, name):
    table = tables[TABLE_OF[name]]
    rows = specs[name]["datasets"][name]
    assert len(rows) == len(table)  # (the annotator table is empty: one annotator)
    key = (
        ["label"]
        if name == "balance"
        else ["bin_start"]
        if name == "uncertainty"
        else ["column", "subgroup"]
    )
    value = {
        "balance": "n",
        "uncertainty": "count",
        "coverage": "share",
        "need_human": "need_human",
    }.get(name, "rate")

    def ident(row):
        return tuple(round(v, 4) if isinstance(v, float) else str(v) for v in (row[k] for k in key))

    want = {ident(r): round(float(r[value]), 4) for r in table.to_dict("records")}
    got = {ident(r): r[value] for r in rows}
    assert got == want


def test_counts_are_whole_numbers_and_thresholds_readable(specs):
    def axis(name, channel, layer=0):
        return list(units(specs[name]))[layer]["encoding"][channel]["axis"]

    for name, channel in [
        ("accuracy", "x"),
        ("uncertainty", "y"),
        ("uncertainty_trend", "x"),
        ("balance", "x"),
        ("need_human", "x"),
    ]:
        assert axis(name, channel)["format"] == "d", name
        assert axis(name, channel)["tickMinStep"] == 1, name
    routing_x = list(units(specs["routing"]))[1]["encoding"]["x"]
    assert routing_x["axis"] == {"values": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "format": ".1f"}
    text = svg_text(specs["routing"])
    assert "0.5 0.6 0.7 0.8 0.9 1.0" in text and "0.500.55" not in text.replace(" ", "")


def test_disagreement_is_clickable_and_dims_all_but_the_focused_slice(specs):
    spec = specs["disagreement"]
    assert spec["usermeta"]["select"] == ["column", "subgroup"]
    bar = next(units(spec))
    assert bar["mark"]["cursor"] == "pointer"
    assert bar["encoding"]["opacity"]["condition"]["test"] == "datum.dimmed"
    rows = spec["datasets"]["disagreement"]
    assert {(r["column"], r["subgroup"]) for r in rows if not r["dimmed"]} == {("group", "A")}
    assert {r["slice"] for r in rows} >= {"group = A", "group = B"}
    undimmed = disagreement_chart(pd.DataFrame(rows)).to_dict()["datasets"]["disagreement"]
    assert not any(r["dimmed"] for r in undimmed)


@pytest.mark.parametrize("name", ["disagreement", "accuracy_by_subgroup"])
def test_small_groups_are_grey_and_ranked_last(specs, name):
    rows = specs[name]["datasets"][name]
    bar = next(units(specs[name]))
    assert bar["encoding"]["color"]["condition"]["test"] == "datum.small"
    assert bar["encoding"]["y"]["sort"] == {"field": "order", "op": "min", "order": "ascending"}
    for column in {r["column"] for r in rows}:
        ordered = sorted((r for r in rows if r["column"] == column), key=lambda r: r["order"])
        flags = [r["small"] for r in ordered]
        assert flags == sorted(flags)  # small ones after the others
        ranked = [r["rate"] for r in ordered if not r["small"]]
        assert ranked == sorted(ranked, reverse=True)


def test_captions_say_what_is_estimated_on_what_sample(specs):
    caption = {name: spec["usermeta"]["caption"] for name, spec in specs.items()}
    assert "unbiased" in caption["accuracy"] and "biased" in caption["accuracy"].replace(
        "unbiased", ""
    )
    assert (
        "before the person labeled" in caption["disagreement"] and "95%" in caption["disagreement"]
    )
    assert "margin" in caption["uncertainty"]
    assert "unbiased" in caption["routing"]
    for name, spec in specs.items():
        assert len(spec["title"].get("subtitle", [])) <= 1, name
        assert all(len(s) <= 60 for s in spec["title"].get("subtitle", [])), name


def test_legend_lists_only_what_is_drawn():
    no_truth = make_session(400, truth=None)
    no_truth.simulate(40, oracle="truth")  # the column is there, only not declared
    no_truth.wait()
    charts = dashboard_charts(no_truth.metrics(), None, "margin", no_truth.routing_curve())
    accuracy = svg_text(charts["accuracy"].to_dict())
    assert "random audit (unbiased)" in accuracy
    assert "held-out truth" not in accuracy and "random-sampling baseline" not in accuracy
    routing = svg_text(charts["routing"].to_dict())
    assert "accuracy (truth)" not in routing and "automation rate" in routing
    no_truth.close()


def test_accuracy_curves_are_thinned_and_styled_by_source(tables):
    n = 1000
    long = pd.DataFrame(
        {
            "source": ["held-out truth"] * n + ["every label, weighted by x"] * n,
            "n_labels": list(range(n)) * 2,
            "estimate": np.linspace(0.5, 0.9, 2 * n),
            "low": 0.4,
            "high": 0.95,
            "n": 100,
        }
    )
    rows = accuracy_chart(long).to_dict()["datasets"]["accuracy"]
    assert len(rows) <= 2 * MAX_POINTS
    assert {r["key"] for r in rows} == {"truth", "estimate"}
    assert max(r["n_labels"] for r in rows) == n - 1  # the newest point is kept


def test_empty_states_say_what_is_really_missing():
    fresh = make_session(300)
    charts = {
        name: c.to_dict() for name, c in dashboard_charts(fresh.metrics(), None, "margin").items()
    }
    note = {
        name: " ".join(r["text"] for r in spec["datasets"].get(f"{name}_note", []))
        for name, spec in charts.items()
    }
    # subgroups were passed: the disagreement chart is empty for another reason
    assert "no labeled item has a model prediction yet" in note["disagreement"].replace("\n", " ")
    assert NO_SUBGROUPS not in note["disagreement"].replace("\n", " ")
    assert note["uncertainty"] and note["routing"] and note["accuracy_by_subgroup"]
    assert not note["coverage"]  # zero labels per subgroup is data, not an empty chart
    assert [row["n"] for row in charts["balance"]["datasets"]["balance"]] == [0, 0]
    for spec in charts.values():
        svg_text(spec)  # every empty chart renders, at a finite size
    assert "no labeled item has a model" in svg_text(charts["disagreement"])
    fresh.close()
    plain = make_session(300, subgroups=())
    charts = dashboard_charts(plain.metrics(), None, "margin")
    for name in ("disagreement", "accuracy_by_subgroup", "need_human", "coverage"):
        text = " ".join(r["text"] for r in charts[name].to_dict()["datasets"][f"{name}_note"])
        assert text.replace("\n", " ") == NO_SUBGROUPS, name
    plain.close()


def test_nan_becomes_null_and_numbers_stay_numbers():
    table = pd.DataFrame(
        {
            "column": ["group", "group"],
            "subgroup": ["A", "B"],
            "n": np.array([12, 0]),
            "successes": [3, 0],
            "rate": [0.25, np.nan],
            "low": [0.09, np.nan],
            "high": [0.53, np.inf],
            "small": np.array([False, True]),
        }
    )
    rows = disagreement_chart(table).to_dict()["datasets"]["disagreement"]
    assert rows[0]["rate"] == 0.25 and isinstance(rows[0]["n"], int) and rows[0]["small"] is False
    assert rows[1]["rate"] is None and rows[1]["high"] is None


def test_many_subgroups_are_capped_and_say_so():
    k = MAX_SLICES + 15
    table = pd.DataFrame(
        {
            "column": ["city"] * k,
            "subgroup": [f"c{i}" for i in range(k)],
            "n": 50,
            "successes": 5,
            "rate": np.linspace(0, 1, k),
            "low": 0.0,
            "high": 1.0,
            "small": False,
        }
    )
    spec = disagreement_chart(table).to_dict()
    assert len(spec["datasets"]["disagreement"]) == MAX_SLICES
    assert "15 more subgroups" in spec["datasets"]["disagreement_note"][0]["text"].replace(
        "\n", " "
    )


def test_payload_does_not_grow_with_the_pool():
    sizes = {}
    for n in (2_000, 100_000):
        s = make_session(n)
        s.simulate(30)
        s.wait()
        data = dashboard_data(s.metrics(), None, s.routing_curve(), 0.9)
        sizes[n] = {name: len(json.dumps(rows)) for name, rows in data.items()}
        s.close()
    small, large = sizes[2_000], sizes[100_000]
    for name in CHARTS:
        assert abs(large[name] - small[name]) <= 0.15 * small[name] + 200, (name, small, large)
