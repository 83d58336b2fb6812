"""The labeler in a real JupyterLab + Chromium: clicks, keys, durability, hostile data,
re-ranks, labels from cells under Run All (no stale card), audit items, and saved views
(a saved notebook, an nbconvert HTML export opened offline: read-only).

Each test opens one notebook of tests/ui/notebooks (copied to a temp root_dir by the
lab_server fixture), runs all cells and drives the widget like a person would. The export
test needs require.js and @jupyter-widgets/html-manager on disk
(scripts/fetch-export-runtime.sh, run by `make install-test`).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
    from playwright.sync_api import expect  # CI: a missing playwright is an error, not a skip
else:
    expect = pytest.importorskip("playwright.sync_api", reason="Python playwright").expect

pytestmark = pytest.mark.ui
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"

CARD = ".hitl-card"
XSS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<svg onload="window.__pwned=1"></svg>',
    "javascript:window.__pwned=1",
]
TRUNCATED = "\u2026 (truncated)"


def card_id(root) -> str | None:
    return root.locator(CARD).get_attribute("data-id")


def expect_new_card(root, old: str | None, timeout: int = 15_000) -> str:
    """The card shows an item other than `old` (not the empty "waiting" card); its id.

    The browser holds a window of queued items; when labels outrun the kernel it shows
    "Waiting for more items" (no data-id) until the next queue arrives, hence the timeout.
    """
    other = re.compile(r"^(?!" + re.escape(old or "") + r"$).+$", re.DOTALL)
    expect(root.locator(CARD)).to_have_attribute("data-id", other, timeout=timeout)
    new = card_id(root)
    assert new and new != old
    return new


def cell_counts(page) -> tuple[int, int]:
    cells = page.locator(".jp-Notebook .jp-Cell")
    return cells.count(), page.locator(".jp-Notebook .jp-MarkdownCell").count()


def focus_widget(root) -> None:
    """Click the widget's own padding (not a button), which focuses its root."""
    root.click(position={"x": 3, "y": 3})
    expect(root).to_be_focused()


# ----------------------------------------------------------------------- 1. the flow
def test_labeling_flow_clicks_keys_undo_skip_are_durable(ui, lab_page, lab_server):
    page = lab_page
    root = ui.open_and_run(page, lab_server, "labeling.ipynb")
    expect(root.locator(CARD)).to_have_attribute("data-id", re.compile(r"^\d+$"))
    buttons = root.locator(".hitl-class-btn")
    expect(buttons).to_have_count(2)
    expect(buttons.nth(0)).to_contain_text("neg")
    expect(buttons.nth(1)).to_contain_text("pos")
    cells_before, markdown_before = cell_counts(page)

    labeled: list[str] = []
    current = card_id(root)
    for i in range(10):  # by mouse
        buttons.nth(i % 2).click()
        labeled.append(current)
        current = expect_new_card(root, current)

    focus_widget(root)
    for i in range(10):  # by keyboard
        page.keyboard.press("1" if i % 2 == 0 else "2")
        labeled.append(current)
        current = expect_new_card(root, current)
    assert len(set(labeled)) == 20, " ".join(labeled)

    # Z undoes the last label; S skips the card shown then. (Whether Z also brings the
    # undone item back as the card is test_undo_brings_the_item_back.)
    page.keyboard.press("z")
    expect(root.locator(".hitl-counts")).to_have_text(re.compile(r"^19 labeled"), timeout=15_000)
    expect(root.locator(".hitl-note")).to_have_count(0)  # "undoing…" is gone
    skipped_id = card_id(root)
    page.keyboard.press("s")
    current = expect_new_card(root, skipped_id)

    expect(root.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)
    expect(root.locator(".hitl-counts")).to_have_text(re.compile(r"^19 labeled"), timeout=10_000)
    root.scroll_into_view_if_needed()
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "labeler.png"))

    # The notebook did not react to 1/2/z/s as well (1 and 2 make a markdown heading,
    # z undoes a cell operation in command mode).
    assert cell_counts(page) == (cells_before, markdown_before)
    assert (
        page.locator(".jp-Notebook .jp-Cell")
        .nth(2)
        .evaluate("el => el.classList.contains('jp-CodeCell')")
    )

    # Kernel side: re-run the prepared check cell.
    output = ui.run_cell(page, 3)
    match = re.search(r"CHECK (\{.*\})", output)
    assert match, output
    check = json.loads(match.group(1))
    assert check["labels"] == 19, check
    assert check["actions"] == {"label": 20, "undo": 1, "skip": 1}, check

    # Durable: read the SQLite file itself from this process.
    store = lab_server.root_dir / "ui-labels.sqlite"
    assert check["store"] == str(store.resolve())
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        actions = dict(conn.execute("SELECT action, COUNT(*) FROM hitl_events GROUP BY action"))
        undone = conn.execute(
            "SELECT item_id FROM hitl_events WHERE event_id IN "
            "(SELECT target_event_id FROM hitl_events WHERE action = 'undo')"
        ).fetchall()
        surviving = conn.execute(
            "SELECT COUNT(DISTINCT item_id) FROM hitl_events WHERE action = 'label' AND "
            "event_id NOT IN (SELECT target_event_id FROM hitl_events WHERE action = 'undo' "
            "AND target_event_id IS NOT NULL)"
        ).fetchone()[0]
        skipped = [
            r[0] for r in conn.execute("SELECT item_id FROM hitl_events WHERE action='skip'")
        ]
    conn.close()
    assert actions == {"label": 20, "undo": 1, "skip": 1}, actions
    assert surviving == 19
    assert undone == [(labeled[-1],)]
    assert skipped == [skipped_id]

    # A card chosen from "Up next" is labeled like any other, but a person chose it: its
    # event carries no selection probability. Every card labeled in the queue's order
    # keeps one, though the clicks above came faster than the kernel replans: each label
    # names the list its card was shown from, kept through re-ranks.
    chosen = root.locator(".hitl-queue-item").nth(2)
    chosen_id = chosen.get_attribute("data-id")
    chosen.click()
    expect(root.locator(CARD)).to_have_attribute("data-id", chosen_id)
    page.keyboard.press("1")
    expect_new_card(root, chosen_id)
    expect(root.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
        drawn = {
            item: (probability, policy)
            for item, probability, policy in conn.execute(
                "SELECT item_id, selection_probability, query_policy FROM hitl_events "
                "WHERE action='label'"
            )
        }
    conn.close()
    assert drawn[chosen_id][0] is None, drawn[chosen_id]
    assert drawn[chosen_id][1].startswith("picked out of the queue's order"), drawn
    assert all(drawn[item][0] is not None for item in labeled), [drawn[i] for i in labeled]


# ----------------------------------------------------------- 1b. undo brings it back
def test_undo_brings_the_item_back(ui, lab_page, lab_server):
    page = lab_page
    root = ui.open_and_run(page, lab_server, "undo.ipynb")
    focus_widget(root)
    for round_ in range(3):
        for key in ("1", "2"):
            before = card_id(root)
            page.keyboard.press(key)
            expect_new_card(root, before)
        expect(root.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)
        page.keyboard.press("z")
        expect(root.locator(".hitl-counts")).to_have_text(
            re.compile(rf"^{2 * round_ + 1} labeled"), timeout=15_000
        )
        expect(root.locator(CARD)).to_have_attribute("data-id", before, timeout=5_000)
        page.keyboard.press("2")  # label it again, then the next round
        expect_new_card(root, before)


# ------------------------------------------------------------------ 2. hostile data
INJECTION_PROBE = """() => {
    const roots = [...document.querySelectorAll('.hitl-labeler')];
    const inside = (sel) => roots.flatMap((r) => [...r.querySelectorAll(sel)]);
    const onAttrs = roots.flatMap((r) => [...r.querySelectorAll('*')])
        .flatMap((el) => [...el.attributes].map((a) => a.name))
        .filter((name) => /^on/i.test(name));
    const badImgs = inside('img').map((i) => i.getAttribute('src') || '')
        .filter((src) => !/^(data:image\\/(png|jpeg|gif|webp);base64,|blob:|https:)/i.test(src));
    return {
        roots: roots.length,
        pwned: typeof window.__pwned,
        active: inside(
            'script, svg, iframe, object, embed, a, form, img[onerror], [href], [srcdoc]')
            .map((el) => el.outerHTML.slice(0, 200)),
        onAttrs,
        badImgs,
        pwnedScripts: [...document.scripts].filter((s) => s.textContent.includes('__pwned')).length,
        pwnedHandlers: [...document.querySelectorAll('[onerror], [onload]')]
            .filter((el) => /__pwned/.test(el.getAttribute('onerror') + el.getAttribute('onload')))
            .length,
    };
}"""


def assert_nothing_ran(page, records) -> None:
    probe = page.evaluate(INJECTION_PROBE)
    assert probe["roots"] == 3, probe
    assert probe["pwned"] == "undefined", probe
    assert probe["active"] == [], probe
    assert probe["onAttrs"] == [], probe
    assert probe["badImgs"] == [], probe
    assert probe["pwnedScripts"] == 0 and probe["pwnedHandlers"] == 0, probe
    assert records["dialog"] == [], records["dialog"]


def walk(page, root, steps: int) -> dict[str, dict]:
    """Show every item of a labeler with ArrowRight; returns {id: {text, truncated, ...}}."""
    focus_widget(root)
    seen: dict[str, dict] = {}
    for _ in range(steps):
        item_id = card_id(root)
        view = root.locator(".hitl-view-slot .hitl-view")
        seen[item_id] = {
            "text": view.evaluate("el => el.textContent"),
            "kind": view.get_attribute("class"),
            "truncated": root.locator(".hitl-view-slot .hitl-truncated").count(),
            "blocked": root.locator(".hitl-view-slot .hitl-image-blocked").count(),
            "imgs": root.locator(".hitl-view-slot img").count(),
        }
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(50)
    return seen


def test_hostile_corpus_is_rendered_as_text(ui, lab_page, lab_server):
    page = lab_page
    records = ui.attach_recorders(page)  # console, page errors and dialogs from now on
    ui.open_and_run(page, lab_server, "hostile.ipynb")
    text_root = ui.cell(page, 1).locator(".hitl-labeler")
    row_root = ui.cell(page, 2).locator(".hitl-labeler")
    wire_root = ui.cell(page, 3).locator(".hitl-labeler")
    for root in (text_root, row_root, wire_root):
        expect(root.locator(CARD)).to_have_attribute("data-id", re.compile(r".+"))
    assert_nothing_ran(page, records)

    # Hostile class labels are button text, verbatim.
    labels = text_root.locator(".hitl-class-label").evaluate_all(
        "els => els.map((e) => e.textContent)"
    )
    assert labels == [*XSS, "\u202eRTL-class"]

    # Text pool: visit every item (ArrowRight), skip one with S, come back with ArrowLeft.
    seen = walk(page, text_root, 9)
    assert len(seen) == 8, list(seen)
    assert_nothing_ran(page, records)
    texts = {item_id: v["text"] for item_id, v in seen.items()}
    for key, hostile in zip(("xss-script", "xss-img", "xss-svg", "xss-js-url"), XSS, strict=True):
        assert texts[key] == hostile, (key, texts[key])
    assert texts["rtl"] == "\u202eevil.exe \u202e<b>rtl</b>"
    assert "before" in texts["nul"] and "after NUL" in texts["nul"]
    assert texts["nul"].replace("\ufffd", "\x00") == "before\x00after NUL"
    big = seen["big-10mb"]
    assert big["truncated"] == 1, big["text"][-40:]
    assert big["text"].startswith("B" * 1000) and big["text"].endswith(TRUNCATED)
    assert len(big["text"]) < 100_000  # capped before the wire, not 10 MB in the DOM
    assert texts['<img src=x onerror="window.__pwned=1">'] == "the id itself is hostile"
    ids = text_root.locator(".hitl-queue-item").evaluate_all("els => els.map((e) => e.dataset.id)")
    assert '<img src=x onerror="window.__pwned=1">' in [*ids, card_id(text_root)]  # list or card

    before_skip = card_id(text_root)
    page.keyboard.press("s")
    expect_new_card(text_root, before_skip)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(text_root.locator(".hitl-saved-state.hitl-error")).to_have_count(0)
    assert_nothing_ran(page, records)

    # Row view: hostile column names and values are table text.
    rows = walk(page, row_root, 3)
    assert len(rows) == 3
    headers = row_root.locator(".hitl-row-table th").evaluate_all(
        "els => els.map((e) => e.textContent)"
    )
    assert headers == [*XSS, "\u202eRTL-column", "note"]
    assert any(XSS[0] in v["text"] for v in rows.values())

    # Raw wire payload: a javascript:/data:text/html/svg/http image src is refused by the
    # browser side (blocked placeholder, no <img>); a PNG data URL gets an <img>.
    wire = walk(page, wire_root, 10)
    for i in range(5):
        view = wire[f"wire-{i}"]
        assert view["blocked"] == 1 and view["imgs"] == 0, (i, view)
    assert "[unsupported view]" in wire["wire-5"]["text"]
    assert wire["wire-6"]["imgs"] == 1 and wire["wire-6"]["blocked"] == 0
    assert XSS[0] in wire["wire-0"]["text"]  # the alt text, as text
    rendered = [v for k, v in wire.items() if k.startswith("row-")]
    assert rendered and all("href" in v["text"] and XSS[3] in v["text"] for v in rendered)
    assert_nothing_ran(page, records)
    assert not [e for e in records["pageerror"] if "hitl" in e.lower()], records["pageerror"]


# -------------------------------------------------------------- 3. re-rank vs card
def test_rerank_does_not_steal_the_card(ui, lab_page, lab_server):
    page = lab_page
    root = ui.open_and_run(page, lab_server, "rerank.ipynb")  # its model's fit sleeps 2 s
    buttons = root.locator(".hitl-class-btn")
    version = root.locator(".hitl-model-version")
    queue_ids = root.locator(".hitl-queue-item")

    for round_, expected_version in enumerate(("model v1", "model v2")):
        if round_ == 0:
            buttons.nth(0).click()
            expect_new_card(root, None)
        before = card_id(root)
        buttons.nth(1 - round_).click()  # both classes labeled: a refit starts
        expect_new_card(root, before)
        page.keyboard.press("ArrowRight")  # look at an item further down the queue
        page.keyboard.press("ArrowRight")
        looking_at = card_id(root)
        order_before = queue_ids.evaluate_all("els => els.map((e) => e.dataset.id)")
        assert version.count() == 0 or version.inner_text() != expected_version, (
            "the refit finished before the test looked at a card: make the model slower"
        )
        expect(root.locator(".hitl-fitting")).to_have_count(1, timeout=10_000)
        expect(version).to_have_text(expected_version, timeout=30_000)
        expect(root.locator(".hitl-fitting")).to_have_count(0, timeout=30_000)
        page.wait_for_timeout(300)  # let any late items update land
        assert card_id(root) == looking_at
        order_after = queue_ids.evaluate_all("els => els.map((e) => e.dataset.id)")
        assert order_after != order_before, "the refit did not re-rank anything"
        assert looking_at not in order_after  # "Up next" never lists the card itself


# --------------------------------------------------- 4. labels from cells: no stale card
def check_output(text: str) -> dict:
    match = re.search(r"CHECK (\{.*\})", text)
    assert match, text
    return json.loads(match.group(1))


def settled_card(page, root, labeled: set[str], timeout_ms: int = 10_000) -> str:
    """The card's `.hitl-item-id` once it stays the same for a second; it must never be
    one of `labeled` on the way."""
    last, stable_since = None, 0.0
    for _ in range(timeout_ms // 100):
        shown = root.locator(".hitl-card .hitl-item-id").inner_text(timeout=5_000)
        assert shown not in labeled, f"the card shows {shown}, which a cell already labeled"
        if shown != last:
            last, stable_since = shown, 0.0
        else:
            stable_since += 0.1
            if stable_since >= 1.0:
                return shown
        page.wait_for_timeout(100)
    return last


def test_labels_from_cells_and_simulate_never_leave_a_stale_card(ui, lab_page, lab_server):
    """quickstart.ipynb and teaching.ipynb under Run All: cells label through the API
    (20 submits; simulate 10 + 30) after the labeler is displayed."""
    page = lab_page
    ui.open_and_run(page, lab_server, "journey.ipynb")
    quick = ui.cell(page, 2).locator(".hitl-labeler")
    teach = ui.cell(page, 4).locator(".hitl-labeler")
    check = check_output(ui.cell_output_text(page, 6))
    assert len(check["quick"]) == 20 and len(check["teach"]) == 40, check

    card = settled_card(page, quick, set(check["quick"]))
    # once the kernel heard which card is shown, it is a fresh card of the current model
    expect(quick.locator(".hitl-card .hitl-reason")).not_to_have_text(re.compile("^cold start"))
    teach_card = settled_card(page, teach, set(check["teach"]))
    expect(teach.locator(CARD)).to_have_attribute("data-id", teach_card)
    queued = teach.locator(".hitl-queue-item").evaluate_all("els => els.map((e) => e.dataset.id)")
    assert teach_card not in queued and not set(queued) & set(check["teach"]), queued

    page.set_viewport_size({"width": 1280, "height": 800})
    quick.scroll_into_view_if_needed()
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "labeler-after-run-all.png"))

    # the first key press labels the card shown, once
    focus_widget(quick)
    page.keyboard.press("1")
    new_card = expect_new_card(quick, card)
    expect(quick.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)
    after = check_output(ui.run_cell(page, 6))
    assert len(after["quick"]) == 21 and card in after["quick"], after["quick"]
    assert max(after["quick_labels"].values()) == 1, after["quick_labels"]
    assert max(after["teach_labels"].values()) == 1, after["teach_labels"]

    # "Up next": what follows the card, in the session's queue order, without the card
    up_next = quick.locator(".hitl-queue-item")
    expected = [i for i in after["quick_queue"] if i != card_id(quick)]
    expect(up_next).to_have_count(len(expected), timeout=15_000)
    ids = up_next.evaluate_all("els => els.map((e) => e.dataset.id)")
    assert ids == expected and card_id(quick) not in ids, (card_id(quick), ids, expected)
    assert new_card not in after["quick"]

    # an audit item: Accept is off and says why, on screen and to a screen reader
    audit_rows = quick.locator(".hitl-queue-item:has(.hitl-audit-badge)")
    assert audit_rows.count() > 0, "expected an audit item in the window (seeded audit_share)"
    audit_id = audit_rows.first.get_attribute("data-id")
    audit_rows.first.click()
    expect(quick.locator(CARD)).to_have_attribute("data-id", audit_id)
    accept = quick.locator(".hitl-accept")
    expect(accept).to_be_disabled()
    expect(accept).to_have_attribute("title", re.compile("random audit item.*without bias"))
    expect(accept).to_have_attribute("aria-label", re.compile("random audit item.*without bias"))
    expect(quick.locator(".hitl-accept-why")).to_be_visible()
    expect(quick.locator(".hitl-accept-why")).to_have_text(
        "suggestion withheld: random audit item (checks the model without bias)"
    )
    expect(quick.locator(".hitl-card .hitl-suggestion")).to_have_count(0)
    quick.scroll_into_view_if_needed()
    page.screenshot(path=str(ui.ARTIFACTS / "labeler-audit-card.png"))
    page.keyboard.press("Enter")  # does nothing: no suggestion to accept
    page.wait_for_timeout(300)
    expect(quick.locator(CARD)).to_have_attribute("data-id", audit_id)


# ------------------------------------------- 5. saved notebooks and exports: read-only
def executed_saved_notebook(tmp_path):
    """tests/ui/notebooks/saved.ipynb executed headless, widget state stored (as
    `jupyter nbconvert --execute` and "Save Widget State" do)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOKS / "saved.ipynb", as_version=4)
    nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        store_widget_state=True,
    ).execute()
    states = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    saved = [m["state"] for m in states.values() if "items" in m["state"]]
    assert len(saved) == 1, "one labeler in the saved state"
    return notebook, saved[0]


def assert_read_only(page, root, saved: dict) -> None:
    """A saved view: says so, shows the item it had, takes no labels, leaves keys alone."""
    note = root.locator(".hitl-readonly")
    expect(note).to_be_visible(timeout=30_000)
    expect(note).to_contain_text("read-only")
    expect(note).to_contain_text("not connected to a running kernel")
    first = saved["current"] or saved["items"][0]["id"]
    expect(root.locator(CARD)).to_have_attribute("data-id", first)
    expect(root.locator(".hitl-card .hitl-item-id")).to_have_text(first)
    buttons = root.locator(".hitl-class-btn, .hitl-skip, .hitl-undo, .hitl-accept")
    assert buttons.count() >= 5
    for i in range(buttons.count()):
        expect(buttons.nth(i)).to_be_disabled()
    root.locator(".hitl-class-btn").first.click(force=True)
    root.click(position={"x": 3, "y": 3})
    for key in ("1", "2", "Enter", "s", "z", "ArrowRight"):
        page.keyboard.press(key)
    page.wait_for_timeout(300)
    expect(root.locator(CARD)).to_have_attribute("data-id", first)
    expect(root.locator(".hitl-saved-state")).to_have_text("")  # never "saving…"
    expect(root.locator(".hitl-hint")).to_be_hidden()


def test_a_saved_notebook_shows_a_read_only_labeler_until_it_runs(
    ui, lab_page, lab_server, tmp_path
):
    page = lab_page
    notebook, saved = executed_saved_notebook(tmp_path)
    import nbformat
    from nbformat.sign import NotebookNotary

    # trusted, as a notebook one ran and saved oneself is (JupyterLab renders widget
    # outputs of trusted notebooks only; an untrusted one shows their text/plain)
    data_dir = ui.lab_env(lab_server.base_dir)["JUPYTER_DATA_DIR"]
    NotebookNotary(data_dir=data_dir).sign(notebook)
    nbformat.write(notebook, lab_server.root_dir / "saved-executed.ipynb")
    ui.open_notebook(page, lab_server, "saved-executed.ipynb")  # a kernel, but no comm
    root = page.locator(".jp-OutputArea-output .hitl-labeler").first
    expect(root).to_be_visible(timeout=60_000)
    assert_read_only(page, root, saved)
    page.set_viewport_size({"width": 1280, "height": 800})
    root.scroll_into_view_if_needed()
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "labeler-saved-notebook.png"))

    # run it: the new labeler is live and takes labels
    ui.run_all(page)
    ui.wait_all_executed(page)
    live = page.locator(".jp-OutputArea-output .hitl-labeler").first
    expect(live.locator(".hitl-readonly")).to_be_hidden(timeout=30_000)
    expect(live.locator(".hitl-class-btn").first).to_be_enabled()
    before = card_id(live)
    live.locator(".hitl-class-btn").first.click()
    expect_new_card(live, before)
    expect(live.locator(".hitl-saved-state")).to_have_text("saved", timeout=15_000)


def export_runtime() -> Path | None:
    """require.js and @jupyter-widgets/html-manager (scripts/fetch-export-runtime.sh)."""
    base = REPO / "node_modules" / ".cache" / "hitl-export"
    ok = (base / "html-manager" / "dist" / "embed-amd.js").is_file()
    return base if ok and (base / "requirejs" / "require.js").is_file() else None


def anywidget_amd() -> Path | None:
    """anywidget's AMD build (its classic-notebook extension), for the export's loader."""
    for prefix in (Path(sys.prefix), Path(sys.base_prefix)):
        path = prefix / "share" / "jupyter" / "nbextensions" / "anywidget" / "index.js"
        if path.is_file():
            return path
    return None


def test_an_html_export_shows_a_read_only_labeler_offline(lab_page, tmp_path):
    """`jupyter nbconvert --to html` of the executed notebook, opened with the network
    blocked: the CDN scripts of the export are served from local copies."""
    runtime, amd = export_runtime(), anywidget_amd()
    if runtime is None or amd is None:
        reason = "no local export runtime: run `bash scripts/fetch-export-runtime.sh`"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    nbconvert = pytest.importorskip("nbconvert")
    notebook, saved = executed_saved_notebook(tmp_path)
    html, _ = nbconvert.HTMLExporter(template_name="lab").from_notebook_node(notebook)
    page_url = "http://export.hitl.test/saved.html"
    served, blocked = [], []

    def handle(route) -> None:
        url = route.request.url
        path = urlsplit(url).path
        if url == page_url:
            route.fulfill(body=html, content_type="text/html; charset=utf-8")
            return
        local = None
        if "/@jupyter-widgets/html-manager@" in path:
            local = runtime / "html-manager" / "dist" / path.rsplit("/dist/", 1)[-1]
        elif path.endswith(("/require.min.js", "/require.js")):
            local = runtime / "requirejs" / "require.js"
        elif re.search(r"/anywidget@[^/]*/dist/index(\.js)?$", path):
            local = amd
        if local is not None and local.is_file():
            served.append(path)
            route.fulfill(path=str(local))
        else:
            blocked.append(url)
            route.abort()

    page = lab_page
    page.route(re.compile(r"^(https?|wss?)://"), handle)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(page_url, wait_until="domcontentloaded")
    root = page.locator(".hitl-labeler").first
    expect(root).to_be_visible(timeout=30_000)
    assert any("embed-amd.js" in p for p in served), served
    assert_read_only(page, root, saved)
    root.scroll_into_view_if_needed()
    ui_artifacts = REPO / "test-artifacts"
    ui_artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui_artifacts / "labeler-html-export.png"))
    assert any("/anywidget@" in p for p in served), served
    # (requirejs first asks the page's own folder for "anywidget.js": refused, harmless)
    assert not [u for u in blocked if "html-manager" in u or "/anywidget@" in u], blocked


# ---------------------------------------------------------- 9. a pool on a cluster
def test_a_dask_pool_says_how_stale_its_ranking_is(ui, lab_page, lab_server):
    """A label on a Dask pool: the next card comes at once (the new model ranks the
    sample), the status line says the full ranking is the older model's while the
    workers rescore, and says nothing once they are done."""
    page = lab_page
    root = ui.open_and_run(page, lab_server, "dask_pool.ipynb")
    expect(root.locator(CARD)).to_have_attribute("data-id", re.compile(r"^\d+$"))
    current = card_id(root)
    root.locator(".hitl-class-btn").nth(0).click()
    expect_new_card(root, current, timeout=5_000)
    work = root.locator(".hitl-work")
    stale = re.compile(r"ranked by model v(\d+), current v(?!\1\b)\d+")
    expect(work).to_contain_text(stale, timeout=10_000)
    page.set_viewport_size({"width": 1280, "height": 800})
    root.scroll_into_view_if_needed()
    ui.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ui.ARTIFACTS / "labeler-dask-rescoring.png"))
    expect(work).to_have_count(0, timeout=30_000)  # rescored: the line goes
    expect(root.locator(".hitl-counts")).to_have_text(re.compile(r"^11 labeled"))
