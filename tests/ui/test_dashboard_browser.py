"""The dashboard in a real JupyterLab + Chromium, offline, at 1280x800 with the file browser open.

dashboard.ipynb builds a Session on `loan_applications(600)` (subgroups=["group"]),
simulates 30 labels, shows a Labeler (cell 2) and a Dashboard (cell 3); cell 4 prints
`session.focused`, cell 5 labels 5 more items through the API, cell 6 shows a routing
chart with `hw.show`. The test re-runs cells 4 and 5.
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

DASHBOARD_CELL, FOCUSED_CELL, LABEL_CELL, SHOW_CELL = 3, 4, 5, 6
SURFACES = "svg.marks, canvas.marks"
LOCAL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:)")
RUNTIME_FRAME = 500_000  # bytes: only the vega runtime's code is this large

# every descendant of an output area whose box ends right of the area's right edge
CLIPPED = """() => {
  const out = [];
  for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
    const edge = area.getBoundingClientRect().right + 0.5;
    for (const el of area.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > edge) {
        const name = `${el.tagName}.${el.getAttribute('class') || ''}`;
        out.push(`${name} ends at ${box.right}, edge ${edge}`);
      }
    }
  }
  return out;
}"""


def clipped_while_scrolling(page) -> list[str]:
    """Scroll the notebook step by step (JupyterLab scrolls inside its windowed panel and
    renders only what is near the viewport) and collect what is cut off at each step."""
    found: list[str] = []
    panel = page.locator(".jp-WindowedPanel-outer").first
    panel.evaluate("el => el.scrollTo(0, 0)")
    while True:
        page.wait_for_timeout(150)
        found += page.evaluate(CLIPPED)
        moved = panel.evaluate(
            """el => { const before = el.scrollTop; el.scrollBy(0, el.clientHeight * 0.8);
                       return el.scrollTop !== before; }"""
        )
        if not moved:
            return found


def focused_in_kernel(ui, page) -> object:
    output = ui.run_cell(page, FOCUSED_CELL)
    match = re.search(r"FOCUSED (.*)", output)
    assert match, output
    return json.loads(match.group(1))


def test_dashboard_offline_in_place_updates_selection_and_no_clipping(ui, lab_page, lab_server):
    page = lab_page
    page.set_viewport_size({"width": 1280, "height": 800})
    blocked: list[str] = []

    def only_local(route):
        if LOCAL.match(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(len(p))))

    ui.open_and_run(page, lab_server, "dashboard.ipynb")
    expect(page.locator(".jp-FileBrowser").first).to_be_visible()  # the narrow layout
    output = ui.cell(page, DASHBOARD_CELL).locator(".jp-OutputArea-output").first
    dashboard = output.locator(".hitl-dashboard")
    header = dashboard.locator(".hitl-dash-counts")
    focus = dashboard.locator(".hitl-dash-focus")

    # 1. the three main charts are drawn, offline, through one runtime
    expect(header).to_have_text("35 labeled of 600", timeout=60_000)  # cell 5 ran too
    expect(dashboard.locator(f".hitl-dash-main :is({SURFACES})")).to_have_count(3, timeout=60_000)
    shown = ui.cell(page, SHOW_CELL).locator(".jp-OutputArea-output").first
    expect(shown.locator(SURFACES)).to_have_count(1, timeout=30_000)
    assert "Error loading script" not in page.locator(".jp-Notebook").inner_text()
    assert not ui.notebook_errors(page)
    assert not blocked, blocked[:10]
    assert sum(size > RUNTIME_FRAME for size in frames) == 1, sorted(frames)[-5:]

    # 2. labels through the API: the charts change in place (same SVG element, new marks)
    card = dashboard.locator('.hitl-dash-card[data-chart="uncertainty"]')
    svg = card.locator("svg.marks").element_handle()
    before = svg.evaluate("el => el.outerHTML")
    assert "LABELED 40" in ui.run_cell(page, LABEL_CELL)
    expect(header).to_have_text("40 labeled of 600", timeout=30_000)
    page.wait_for_function(
        "([el, before]) => el.isConnected && el.outerHTML !== before", arg=[svg, before]
    )

    # 3. a click on a disagreement bar focuses the session; "show all items" clears it
    bars = dashboard.locator('.hitl-dash-card[data-chart="disagreement"] .mark-rect path')
    expect(bars).to_have_count(2)  # groups A and B
    bar = bars.first
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    assert box and box["width"] > 2 and box["height"] > 2, box
    bar.click(position={"x": min(box["width"] / 2, 20), "y": box["height"] * 0.2})
    expect(focus).to_have_text(re.compile(r"^queue focused on group = [AB]$"), timeout=15_000)
    chosen = focus.inner_text().rsplit("= ", 1)[1]
    assert focused_in_kernel(ui, page) == {"group": chosen}
    page.wait_for_function(  # the other bar dims (rows from Python, applied in place)
        "els => els.filter((e) => e.getAttribute('opacity') === '0.35').length === 1",
        arg=bars.element_handles(),
    )
    dashboard.get_by_role("button", name="show all items").click()
    expect(focus).to_have_text("", timeout=15_000)
    assert focused_in_kernel(ui, page) is None

    # 4. nothing reaches past the output area, main charts and every tab, at 1280x800
    assert not clipped_while_scrolling(page)
    tabs = dashboard.locator(".hitl-dash-tab")
    for i in range(tabs.count()):
        tabs.nth(i).scroll_into_view_if_needed()
        tabs.nth(i).click()
        expect(dashboard.locator(f".hitl-dash-panel :is({SURFACES})")).to_have_count(1)
        assert not page.evaluate(CLIPPED), tabs.nth(i).inner_text()
    expect(dashboard.locator(".hitl-dash-threshold")).to_have_count(0)  # routing closed again

    # 5. the worst slices, searched when their tab opens; a click focuses on one
    tabs.filter(has_text="Worst slices").click()
    slice_bars = dashboard.locator('.hitl-dash-card[data-chart="worst_slices"] .mark-rect path')
    expect(slice_bars.first).to_be_visible(timeout=30_000)
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "dashboard-worst-slices-1280x800.png"))
    first = slice_bars.first
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    assert box and box["width"] > 2 and box["height"] > 2, box
    first.click(position={"x": min(box["width"] / 2, 20), "y": box["height"] * 0.5})
    expect(focus).to_have_text(re.compile(r"^queue focused on .+ = .+"), timeout=15_000)
    assert focused_in_kernel(ui, page)  # the session is focused on that slice
    dashboard.get_by_role("button", name="show all items").click()
    expect(focus).to_have_text("", timeout=15_000)
    tabs.filter(has_text="Worst slices").click()  # closed again
    tabs.filter(has_text="Routing").click()
    expect(dashboard.locator(".hitl-dash-routing-summary")).to_contain_text("At 0.90 the model")
    assert not clipped_while_scrolling(page)

    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(500)
        assert not page.evaluate(CLIPPED), width
        dashboard.evaluate("el => el.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ui.ARTIFACTS / f"dashboard-{width}x{height}.png"))
