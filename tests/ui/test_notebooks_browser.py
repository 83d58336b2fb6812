"""Every notebook in notebooks/, as a person sees it: real JupyterLab + Chromium, offline.

One JupyterLab server (root: a fresh copy of notebooks/) for the module, a fresh page per
notebook at 1280x800 with the file browser open (JupyterLab's default layout). Every
request that is not loopback, data: or blob: is aborted, so anything that needs a CDN
shows as an error. For each notebook, after Run All:

1. no cell raised, and no output holds "Error loading script", "Traceback" or "Error
   displaying widget"; no output went to stderr (warnings bury the widgets);
2. every chart surface is drawn: the number of `svg.marks, canvas.marks` under the
   output areas, polled until stable, equals the count this file expects for the
   notebook (a dashboard draws three; `hw.show` one per chart);
3. no labeler shows an item that is already done: each labeler's card, once settled,
   is checked against its own session, read from the live kernel through a second
   client (label mode: not a labeled item; adjudicate mode: an item still waiting);
   and every dashboard catches up: its header counts what its session holds;
4. nothing is cut off: scrolling the notebook step by step, no descendant of an output
   area ends right of the area's right edge; a screenshot of every step (of the final
   state, after 3.) is kept under test-artifacts/notebooks/<notebook>/ (CI keeps
   test-artifacts/).

A notebook added to notebooks/ without an entry in CHARTS fails until one is added.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
    from playwright.sync_api import expect  # CI: a missing playwright is an error, not a skip
else:
    expect = pytest.importorskip("playwright.sync_api", reason="Python playwright").expect

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
VIEWPORT = {"width": 1280, "height": 800}

# chart surfaces each notebook draws: a Dashboard's three main charts (the rest sit
# behind tabs, drawn on click) plus one per `hw.show`
CHARTS = {
    "quickstart": 3,  # hw.label: labeler + dashboard
    "teaching": 2,  # pool map, race
    "bias_audit": 4,  # dashboard, routing curve
    "team_labeling": 0,  # tables and labelers only
    "images": 3,  # hw.label: labeler + dashboard
}

# Chart text (titles, axis and legend labels) drawn outside its own SVG box: the chart
# was laid out before its rows changed in place and cuts that text off.
CUT_TEXT = """() => {
  const out = [];
  for (const svg of document.querySelectorAll('.jp-OutputArea-output svg.marks')) {
    const box = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const r = text.getBoundingClientRect();
      if (r.width === 0 || !text.textContent.trim()) continue;
      if (r.bottom > box.bottom + 1 || r.top < box.top - 1 || r.left < box.left - 1
          || r.right > box.right + 1) out.push(`chart text cut off: ${text.textContent}`);
    }
  }
  return out;
}"""

# Run in the notebook's kernel: every open Labeler (creation order = page order here)
# with what its card may not / must show, read from its own session; and what every
# open Dashboard's header should say.
PROBE = """
def _hitl_probe():
    import json
    from ipywidgets.widgets.widget import _instances
    from hitl_widgets.widgets.dashboard import Dashboard
    from hitl_widgets.widgets.labeler import Labeler
    rows, dashboards = [], []
    for widget in list(_instances.values()):
        if isinstance(widget, Dashboard) and widget.comm is not None:
            status = widget.session.status
            dashboards.append(f"{status.n_labeled} labeled of {status.n_items}")
        if not isinstance(widget, Labeler) or widget.comm is None:
            continue
        session = widget.session
        row = {"mode": widget.mode, "annotator": session.annotator}
        if widget.mode == "label":
            opinions = session.opinions
            mine = opinions[opinions["annotator"] == session.annotator]["item_id"]
            done = set(map(str, mine)) | (
                set(map(str, session.labels.index)) if session.overlap == 1 else set())
            row["not"] = sorted(done)
        elif widget.mode == "adjudicate":
            row["only"] = sorted(map(str, session.adjudication_queue().index))
        rows.append(row)
    print("HITL-PROBE " + json.dumps({"labelers": rows, "dashboards": dashboards}))

_hitl_probe()
del _hitl_probe
"""


@pytest.fixture(scope="module")
def notebooks_lab(ui, tmp_path_factory):
    server = ui.start_lab(tmp_path_factory.mktemp("notebooks-lab"), notebooks=REPO / "notebooks")
    try:
        yield server
    finally:
        ui.stop_lab(server)


def settled_cards(page, timeout_s: float = 20.0, settle_s: float = 1.5) -> list[str | None]:
    """The id on each labeler's card, once none has changed for `settle_s`."""
    read = """() => [...document.querySelectorAll('.jp-OutputArea-output .hitl-labeler')]
        .map((root) => {
            const card = root.querySelector('.hitl-card');
            if (!card) return null;
            const shown = card.querySelector('.hitl-item-id');
            return card.dataset.id || (shown ? shown.textContent.trim() : null) || null;
        })"""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        cards = page.evaluate(read)
        if cards != last:
            last, since = cards, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            break
        page.wait_for_timeout(200)
    return last or []


def stale_cards(probe: list[dict], cards: list[str | None]) -> list[str]:
    problems = []
    for i, (labeler, card) in enumerate(zip(probe, cards, strict=True)):
        where = f"labeler {i + 1} ({labeler['mode']}, {labeler['annotator']})"
        if labeler["mode"] == "label":
            if card is None:
                problems.append(f"{where} shows no item")
            elif card in labeler["not"]:
                problems.append(f"{where} shows {card}, which is already labeled")
        elif labeler["mode"] == "adjudicate" and card is not None and card not in labeler["only"]:
            problems.append(f"{where} shows {card}, which no longer waits for a decision")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_offline_draws_every_chart_and_fits(path, ui, browser, notebooks_lab):
    name = path.stem
    assert name in CHARTS, f"add the number of charts {path.name} draws to CHARTS"
    shots = ui.ARTIFACTS / "notebooks" / name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    page = browser.new_page()
    page.set_viewport_size(VIEWPORT)
    ui.attach_recorders(page)
    page.set_default_timeout(30_000)
    blocked = ui.block_non_loopback(page)
    passed = False
    started = time.monotonic()
    try:
        # 1. runs top to bottom, no error text anywhere, nothing on stderr
        ui.open_and_run_all(page, notebooks_lab, path.name)
        ran = time.monotonic() - started
        charts = ui.wait_stable_count(page, ui.CHART_SURFACES)
        assert not ui.output_error_texts(page), ui.output_error_texts(page)
        stderr = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_text_contents()
        assert not stderr, stderr
        assert not blocked, blocked[:10]

        # 2. every chart drawn, offline
        assert charts == CHARTS[name], f"{charts} chart surfaces drawn, expected {CHARTS[name]}"

        # 3. no labeler shows an item that is already done; every dashboard caught up
        out = ui.run_in_kernel(notebooks_lab, path.name, PROBE)
        probe = json.loads(out.split("HITL-PROBE ", 1)[1])
        cards = settled_cards(page)
        labelers = probe["labelers"]
        assert len(cards) == len(labelers), (cards, [p["mode"] for p in labelers])
        assert not stale_cards(labelers, cards), stale_cards(labelers, cards)
        headers = page.locator(".jp-OutputArea-output .hitl-dash-counts")
        waited = time.monotonic()
        expect(headers).to_have_text(probe["dashboards"], timeout=60_000)
        waited = time.monotonic() - waited

        # 4. nothing reaches past its output area; a screenshot per scroll step
        clipped: list[str] = []

        def check(step: int) -> None:
            found = page.evaluate(ui.CLIPPED_JS) + page.evaluate(CUT_TEXT)
            clipped.extend(f"step {step}: {line}" for line in found)
            page.screenshot(path=str(shots / f"{step:02d}.png"))

        stops = ui.scroll_notebook(page, check)
        assert not clipped, "\n".join(dict.fromkeys(clipped))

        assert not ui.output_error_texts(page)  # still none after the scroll drew the rest
        passed = True
        print(
            f"{name}: ran in {ran:.0f} s, {charts} charts, {len(cards)} labelers, "
            f"{len(probe['dashboards'])} dashboards (caught up after {waited:.1f} s), "
            f"{stops} screenshots, {time.monotonic() - started:.0f} s in all"
        )
    finally:
        if not passed:
            saved = ui.save_failure_artifacts(page, notebooks_lab, f"notebooks-{name}")
            print("kept:", *map(str, saved), sep="\n  ")
        page.close()
        ui.shutdown_kernels(notebooks_lab)
