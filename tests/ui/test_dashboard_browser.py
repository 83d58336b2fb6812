"""The dashboard in a real JupyterLab + Chromium: offline charts, redraws, bar selection.

dashboard.ipynb builds a Session on `loan_applications(600)` (subgroups=["group"]),
simulates 30 labels, shows a Labeler (cell 2) and a Dashboard (cell 3); cell 4 prints
`session.focused` and is re-run by the test.
"""

from __future__ import annotations

import json
import os
import re

import pytest

if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
    from playwright.sync_api import expect  # CI: a missing playwright is an error, not a skip
else:
    expect = pytest.importorskip("playwright.sync_api", reason="Python playwright").expect

pytestmark = pytest.mark.ui

CARD = ".hitl-card"
LABELER_CELL, DASHBOARD_CELL, FOCUSED_CELL = 2, 3, 4
DISAGREEMENT_TITLE = "Model vs human disagreement by subgroup"
MIN_CHARTS = 8
LOCAL_SCHEMES = ("data:", "blob:")


def chart_svg_html(chart) -> str:
    return chart.locator("svg").first.evaluate("el => el.outerHTML")


def all_svg_html(dashboard) -> list[str]:
    return dashboard.locator(".vega-embed svg").evaluate_all("els => els.map((e) => e.outerHTML)")


def expect_charts_changed(page, dashboard, before: list[str], at_least: int) -> None:
    """At least `at_least` of the dashboard's charts were redrawn with other content."""
    page.wait_for_function(
        """([el, before, n]) => {
            const now = [...el.querySelectorAll('.vega-embed svg')].map((e) => e.outerHTML);
            return now.filter((html, i) => html !== before[i]).length >= n;
        }""",
        arg=[dashboard.element_handle(), before, at_least],
        timeout=30_000,
    )


def expect_svg_changed(page, chart, before: str, timeout_ms: int = 30_000) -> None:
    """The chart's (possibly re-created) SVG differs from `before`."""
    page.wait_for_function(
        """([el, before]) => {
            const svg = el.querySelector('svg');
            return svg !== null && svg.outerHTML !== before;
        }""",
        arg=[chart.element_handle(), before],
        timeout=timeout_ms,
    )


def test_dashboard_renders_offline_redraws_and_selects(ui, lab_page, lab_server):
    page = lab_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    labeler = ui.open_and_run(page, lab_server, "dashboard.ipynb")
    dashboard = ui.cell(page, DASHBOARD_CELL).locator(".jp-OutputArea-output").first
    header = dashboard.locator(".widget-html-content").first
    focus_label = dashboard.locator("div.widget-label").first  # the Label widget

    # 1. every chart rendered, with vega bundled by the kernel (offline: no CDN)
    page.wait_for_function(
        "([el, n]) => el.querySelectorAll('.vega-embed svg').length >= n",
        arg=[dashboard.element_handle(), MIN_CHARTS],
        timeout=60_000,
    )
    expect(header).to_have_text(re.compile(r"^30 labeled of 600"), timeout=30_000)
    expect(focus_label).to_have_text("")
    disagreement = dashboard.locator(".vega-embed", has_text=DISAGREEMENT_TITLE)
    expect(disagreement).to_have_count(1)
    bars = disagreement.locator(".mark-rect path")
    expect(bars).to_have_count(2)  # groups A and B
    disagreement_before = chart_svg_html(disagreement)
    charts_before = all_svg_html(dashboard)

    # 2. label a few items by clicking: refits redraw the charts
    buttons = labeler.locator(".hitl-class-btn")
    expect(buttons).to_have_count(2)
    current = labeler.locator(CARD).get_attribute("data-id")
    for i in range(4):
        buttons.nth(i % 2).click()
        expect(labeler.locator(CARD)).not_to_have_attribute("data-id", current, timeout=5_000)
        current = labeler.locator(CARD).get_attribute("data-id")
    expect(labeler.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)
    # the redraw after the last refit is shown ("ready"): no re-embed races the click
    expect(header).to_have_text(re.compile(r"^34 labeled of 600 .*ready$"), timeout=30_000)
    expect_charts_changed(page, dashboard, charts_before, at_least=3)
    expect_svg_changed(page, disagreement, disagreement_before)
    expect(bars).to_have_count(2)

    # 3. click a bar of the disagreement chart: the selection reaches the session.
    # Click above the bar's middle: the Wilson-interval rule runs through the middle.
    bar = bars.first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    assert box and box["width"] > 2 and box["height"] > 2, box
    bar.click(position={"x": min(box["width"] / 2, 20), "y": box["height"] * 0.2})
    expect(bars.nth(1)).to_have_attribute("opacity", "0.35", timeout=5_000)  # vega selected A
    # (a bar click that vega shows as selected but that never reaches the session: the
    # Dashboard observing a JupyterChart.selections object that a redraw replaced)
    expect(focus_label, "the bar click did not reach session.focus").to_have_text(
        re.compile(r"^queue focused on group = [AB]$"), timeout=15_000
    )
    expect(dashboard.get_by_role("button", name="show all items")).to_be_enabled()
    shown = focus_label.inner_text().rsplit("= ", 1)[1]

    output = ui.run_cell(page, FOCUSED_CELL)
    match = re.search(r"FOCUSED (.*)", output)
    assert match, output
    focused = json.loads(match.group(1))
    assert focused in ({"group": "A"}, {"group": "B"}), focused
    assert focused == {"group": shown}, (focused, shown)

    # 4. the focus survives the next refit's redraw (labeling inside the focused slice)
    charts_before = all_svg_html(dashboard)
    current = labeler.locator(CARD).get_attribute("data-id")
    buttons.nth(0).click()
    expect(labeler.locator(CARD)).not_to_have_attribute("data-id", current, timeout=5_000)
    expect(header).to_have_text(re.compile(r"^35 labeled of 600 .*ready$"), timeout=30_000)
    expect_charts_changed(page, dashboard, charts_before, at_least=2)
    page.wait_for_timeout(1_000)  # the re-embedded chart reports its selections late
    expect(focus_label, "a redraw dropped the focus").to_have_text(
        f"queue focused on group = {shown}", timeout=5_000
    )
    output = ui.run_cell(page, FOCUSED_CELL)
    assert f'FOCUSED {{"group": "{shown}"}}' in output, output

    # 5. offline: every request went to the lab server (or was a data:/blob: URL)
    foreign = [
        url
        for url in requests
        if not (url.startswith(lab_server.base_url + "/") or url.startswith(LOCAL_SCHEMES))
    ]
    assert requests and not foreign, foreign[:20]
    assert not [e for e in page._hitl_records["pageerror"] if "vega" in e.lower()], (
        page._hitl_records["pageerror"]
    )

    dashboard.scroll_into_view_if_needed()
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "dashboard.png"), full_page=True)
