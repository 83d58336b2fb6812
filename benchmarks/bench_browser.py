"""Labeler latency in a real browser: input -> card updated, input -> "saved" (durable ack).

Starts JupyterLab and headless Chromium with the helpers of tests/ui/conftest.py, opens
tests/ui/notebooks/bench.ipynb (2,000 rows x 20 features, SQLite store, default model;
--notebook bench_click.ipynb: 10,000 rows; --rows N: a generated notebook of N rows x 20
features, e.g. --rows 100000, where each label's refit is still running when the next
input comes), runs it, then for N clicks on a class button (and N "1"/"2" key presses)
measures inside the page, with performance.now():
  - card: from the input event's timestamp to the MutationObserver seeing the card's
    data-id change (the browser-side update; goal < 100 ms),
  - frame: to the next animation frame after that (about when it is painted),
  - saved: to the status showing "saved" again, i.e. the kernel committed the label to
    SQLite and its ack came back through the comm.
Each input waits for the previous "saved" (a person labels about once a second; a burst
that outruns the kernel is a different measurement). Then, as the reference side by side
(same kernel, server and browser), the same clicks on a widget that only answers each
message (no store, no refit): the floor of click -> "saved" on this machine at this load.

Where the time of "saved" goes, per label (printed as a second table): the page records
when the label's frame left on the websocket and when its ack frame arrived (a wrapper of
WebSocket installed before JupyterLab loads); the kernel's Labeler records, per message,
when its handler started (wall clock, to match the browser's clock: same machine) and how
long after that the store committed it and the ack was sent (`Labeler.timings()`, read by
re-running a cell the benchmark appends to the notebook).

Run: .venv/bin/python benchmarks/bench_browser.py [--clicks 30] [--keys 30]
     [--notebook NAME | --rows 100000]
Prints a markdown table; writes JSON to benchmarks/results/browser.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "browser.json"
GOAL_MS = 100.0  # input -> card updated, p95
SAVED_MEDIAN_MS = 25.0  # input -> "saved" (DESIGN.md budget)
SAVED_P95_MS = 60.0


def load_helpers():
    """tests/ui/conftest.py as a plain module (it holds the server/browser logic)."""
    path = REPO / "tests" / "ui" / "conftest.py"
    spec = importlib.util.spec_from_file_location("hitl_ui_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Installed before JupyterLab loads: the time each label frame leaves on the websocket and
# each ack frame arrives (performance.now()), by the label's client_id. Frames are the
# Jupyter websocket protocol's (JSON text, or binary v1 frames whose JSON parts decode
# as UTF-8); only frames that mention a label or an ack are searched.
WIRE = r"""(() => {
    const wire = { sent: {}, acked: {}, sentOrder: [] };
    window.__hitlWire = wire;
    const decoder = new TextDecoder();
    const text = (d) => typeof d === 'string' ? d
        : d instanceof ArrayBuffer ? decoder.decode(new Uint8Array(d))
        : ArrayBuffer.isView(d) ? decoder.decode(d) : '';
    const CID = /"client_id":\s*"([^"]+)"/;
    const Native = window.WebSocket;
    const nativeSend = Native.prototype.send;
    Native.prototype.send = function (data) {
        const t = performance.now();
        try {
            const s = text(data);
            if (/"kind":\s*"label"/.test(s)) {
                const m = s.match(CID);
                if (m) { wire.sent[m[1]] = t; wire.sentOrder.push([t, m[1]]); }
            }
        } catch (e) { /* a frame we cannot read is not ours */ }
        return nativeSend.call(this, data);
    };
    class Recording extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', (ev) => {
                const t = performance.now();
                try {
                    const s = text(ev.data);
                    if (/"kind":\s*"ack"/.test(s)) {
                        const m = s.match(CID);
                        if (m && wire.acked[m[1]] === undefined) wire.acked[m[1]] = t;
                    }
                } catch (e) { /* idem */ }
            });
        }
    }
    window.WebSocket = Recording;
})()"""

TIMINGS_CELL = 'import json\nprint("TIMINGS", json.dumps(labeler.timings()))'

# The reference, side by side in the same kernel, server and browser: a widget that only
# answers (no store, no refit, no queue). Its click -> "saved" is the floor the machine
# allows at the moment; the labeler's excess over it is ours.
ECHO_CELL = '''import anywidget


class BenchEcho(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const root = document.createElement("div");
      root.className = "hitl-bench-echo";
      const button = document.createElement("button");
      button.className = "hitl-bench-echo-btn";
      button.textContent = "echo";
      const state = document.createElement("span");
      state.className = "hitl-bench-echo-state";
      root.append(button, state);
      el.appendChild(root);
      let n = 0;
      button.addEventListener("click", () => {
        n += 1;
        state.textContent = "saving";
        model.send({ kind: "label", client_id: `echo-${n}` });
      });
      model.on("msg:custom", (msg) => {
        if (msg && msg.kind === "ack") state.textContent = "saved";
      });
    }
    export default { render };
    """

    def __init__(self):
        super().__init__()
        self.on_msg(self._answer)

    def _answer(self, widget, content, buffers):
        self.send({"kind": "ack", "client_id": content.get("client_id"), "ok": True})


BenchEcho()'''

ARM_ECHO = """() => {
    const button = document.querySelector('.hitl-bench-echo-btn');
    const state = document.querySelector('.hitl-bench-echo-state');
    window.__hitlEcho = new Promise((resolve) => {
        let t0;
        const onClick = (e) => { t0 = e.timeStamp; };
        button.addEventListener('click', onClick, { once: true, capture: true });
        const obs = new MutationObserver(() => {
            if (state.textContent === 'saved' && t0 !== undefined) {
                obs.disconnect();
                resolve({ saved: performance.now() - t0 });
            }
        });
        obs.observe(state, { childList: true, characterData: true, subtree: true });
        setTimeout(() => resolve({ timeout: true }), 20000);
    });
}"""
TIMINGS = re.compile(r"TIMINGS (\[.*\])", re.DOTALL)


def code_cell(source: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def rows_notebook(rows: int) -> dict:
    """A notebook like bench_click.ipynb with `rows` rows x 20 numeric features."""
    source = f"""import numpy as np
import pandas as pd

import hitl_widgets as hw

rng = np.random.default_rng(0)
X = rng.standard_normal(({rows}, 20))
pool = pd.DataFrame(X, columns=[f"x{{i}}" for i in range(20)])
pool["truth"] = np.where(X @ rng.standard_normal(20) > 0, "pos", "neg")
session = hw.Session(
    pool, classes=["neg", "pos"], truth="truth", store="bench-rows.sqlite", random_state=0
)
labeler = hw.Labeler(session)
labeler"""
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": [f"# Browser latency benchmark: {rows:,} rows x 20 features"],
            },
            code_cell(source),
        ],
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def prepare_notebook(directory: Path, name: str, rows: int | None) -> tuple[str, int]:
    """Write the notebook to run into `directory`, with a last cell that prints the
    kernel's timings; returns its name and the index of that cell."""
    if rows is not None:
        name = f"bench_rows_{rows}.ipynb"
        notebook = rows_notebook(rows)
    else:
        notebook = json.loads((REPO / "tests" / "ui" / "notebooks" / name).read_text())
    for cell in notebook["cells"]:
        cell.pop("id", None)
    notebook["nbformat_minor"] = 4  # cells without ids
    notebook["cells"].append(code_cell(ECHO_CELL))
    notebook["cells"].append(code_cell(TIMINGS_CELL))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps(notebook, indent=1))
    return name, len(notebook["cells"]) - 1


def measure_echo(page, n: int) -> list[dict]:
    """Click -> "saved" of the reference widget, paced like the labeler's inputs."""
    button = page.locator(".hitl-bench-echo-btn")
    button.scroll_into_view_if_needed()
    out = []
    for i in range(n):
        page.evaluate(ARM_ECHO)
        button.click()
        result = page.evaluate("window.__hitlEcho")
        if result.get("timeout"):
            raise RuntimeError(f"echo {i}: no answer within 20 s")
        out.append(result)
        page.wait_for_timeout(150)
    return out


def kernel_timings(ui, page, cell_index: int) -> dict[str, dict]:
    """The Labeler's per-message timings (re-runs the appended cell), by client_id."""
    try:
        output = ui.run_cell(page, cell_index, timeout_ms=60_000)
    except Exception as exc:  # a benchmark without the breakdown still has its table
        print(f"(kernel timings unavailable: {exc})", file=sys.stderr)
        return {}
    match = TIMINGS.search(output)
    records = json.loads(match.group(1)) if match else []
    return {r["client_id"]: r for r in records if r.get("client_id")}


# Arms one measurement: resolves window.__hitlBench with timings relative to the input.
ARM = """() => {
    const root = document.querySelector('.jp-OutputArea-output .hitl-labeler');
    const card = root.querySelector('.hitl-card');
    const status = root.querySelector('.hitl-status');
    const start = card.dataset.id;
    const r = { start };
    let sawUnsaved = false;
    let done = false;
    window.__hitlBench = new Promise((resolve) => {
        const finish = () => {
            if (done || r.frame === undefined || r.saved === undefined) return;
            done = true;
            const wire = window.__hitlWire;
            const sent = wire ? wire.sentOrder.find(([t]) => t >= r.t0) : undefined;
            if (sent) {
                r.cid = sent[1];
                r.wireSent = sent[0] - r.t0;
                if (wire.acked[r.cid] !== undefined) r.wireAck = wire.acked[r.cid] - r.t0;
            }
            r.t0Epoch = performance.timeOrigin + r.t0;
            cardObs.disconnect();
            statusObs.disconnect();
            root.removeEventListener('click', onInput, true);
            root.removeEventListener('keydown', onInput, true);
            clearTimeout(timer);
            resolve(r);
        };
        const onInput = (e) => {
            if (r.t0 === undefined) { r.t0 = e.timeStamp; r.kind = e.type; }
        };
        root.addEventListener('click', onInput, true);
        root.addEventListener('keydown', onInput, true);
        const cardObs = new MutationObserver(() => {
            const id = card.dataset.id;
            if (r.card === undefined && r.t0 !== undefined && id && id !== start) {
                r.card = performance.now() - r.t0;
                r.newId = id;
                requestAnimationFrame(() => { r.frame = performance.now() - r.t0; finish(); });
            }
        });
        cardObs.observe(card, { attributes: true, attributeFilter: ['data-id'] });
        const statusObs = new MutationObserver(() => {
            if (r.t0 === undefined) return;
            const el = status.querySelector('.hitl-saved-state');
            const text = el ? el.textContent : '';
            if (text !== 'saved') sawUnsaved = true;
            else if (sawUnsaved && r.saved === undefined) {
                r.saved = performance.now() - r.t0;
                finish();
            }
        });
        statusObs.observe(status, { childList: true, subtree: true, characterData: true });
        const timer = setTimeout(() => { done = true; r.timeout = true; resolve(r); }, 20000);
    });
    return start;
}"""


# A burst: keys faster than the kernel answers. Counts how often (and how long) the card
# was empty ("Waiting for more items", keys are ignored then) until everything is saved.
ARM_BURST = """() => {
    const root = document.querySelector('.jp-OutputArea-output .hitl-labeler');
    const card = root.querySelector('.hitl-card');
    const status = root.querySelector('.hitl-status');
    const r = { t0: performance.now(), empty: 0, emptyMs: 0 };
    let emptySince = null;
    let sawUnsaved = false;
    window.__hitlBurst = new Promise((resolve) => {
        const cardObs = new MutationObserver(() => {
            const t = performance.now();
            if (!card.dataset.id && emptySince === null) { emptySince = t; r.empty += 1; }
            if (card.dataset.id && emptySince !== null) {
                r.emptyMs += t - emptySince;
                emptySince = null;
            }
        });
        cardObs.observe(card, { attributes: true, attributeFilter: ['data-id'] });
        // Resolves once every key was sent (window.__hitlBurstSent) and all is saved.
        const check = () => {
            const el = status.querySelector('.hitl-saved-state');
            const text = el ? el.textContent : '';
            if (text !== 'saved') sawUnsaved = true;
            else if (sawUnsaved && window.__hitlBurstSent && card.dataset.id) {
                r.saved = performance.now() - r.t0;
                cardObs.disconnect();
                statusObs.disconnect();
                resolve(r);
            }
        };
        window.__hitlBurstCheck = check;
        const statusObs = new MutationObserver(check);
        statusObs.observe(status, { childList: true, subtree: true, characterData: true });
        setTimeout(() => { r.timeout = true; resolve(r); }, 60000);
    });
    window.__hitlBurstSent = false;
}"""


def labeled_count(root) -> int:
    return int(root.locator(".hitl-counts").inner_text().split()[0].replace(",", ""))


def burst(page, root, n: int, interval_ms: int) -> dict:
    """n keys, one every interval_ms; returns the page's record plus labels stored."""
    page.wait_for_timeout(1000)
    before = labeled_count(root)
    page.evaluate(ARM_BURST)
    for i in range(n):
        page.keyboard.press("1" if i % 2 == 0 else "2")
        page.wait_for_timeout(interval_ms)
    page.evaluate("window.__hitlBurstSent = true; window.__hitlBurstCheck()")
    result = page.evaluate("window.__hitlBurst")
    page.wait_for_timeout(1500)  # the status after the last refit
    result["labels"] = labeled_count(root) - before
    result.update(keys=n, interval_ms=interval_ms)
    return result


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure(page, root, act, n: int) -> list[dict]:
    out = []
    for i in range(n):
        page.evaluate(ARM)
        act(i)
        result = page.evaluate("window.__hitlBench")
        if result.get("timeout"):
            raise RuntimeError(f"input {i}: no card change or no 'saved' within 20 s: {result}")
        out.append(result)
        page.wait_for_timeout(150)  # let the refit's queue refresh land, as between labels
    return out


def summarize(name: str, results: list[dict], key: str) -> dict:
    values = [r[key] for r in results if r.get(key) is not None]
    if not values:
        return {
            "measure": name,
            "n": 0,
            "median_ms": math.nan,
            "p95_ms": math.nan,
            "max_ms": math.nan,
        }
    return {
        "measure": name,
        "n": len(values),
        "median_ms": statistics.median(values),
        "p95_ms": percentile(values, 0.95),
        "max_ms": max(values),
    }


# One label's "saved", cut where the page and the kernel can see it (ms; see the docstring).
STAGES = [
    ("input → label frame sent (browser)", None, "wireSent"),
    ("frame sent → kernel handler starts (server, kernel queue, GIL)", "wireSent", "kRecv"),
    ("handler starts → store committed", "kRecv", "kCommitted"),
    ("committed → ack sent", "kCommitted", "kAcked"),
    ("ack sent → on the kernel's socket (IOPub thread)", "kAcked", "kFlushed"),
    ("on the socket → ack frame arrives (server)", "kFlushed", "wireAck"),
    ("ack sent → ack frame arrives (kernel, server)", "kAcked", "wireAck"),
    ('ack frame → "saved" shown (JupyterLab, widget)', "wireAck", "saved"),
]


def add_kernel_times(results: list[dict], kernel: dict[str, dict]) -> None:
    """Kernel times of each input, relative to the input (the page's clock)."""
    for r in results:
        k = kernel.get(r.get("cid") or "")
        if not k or r.get("t0Epoch") is None:
            continue
        recv = k["received_at"] - r["t0Epoch"]
        r["kRecv"] = recv
        for key, name in (
            ("kCommitted", "committed"),
            ("kAcked", "acked"),
            ("kFlushed", "flushed"),
            ("kDone", "done"),
        ):
            if k.get(name) is not None:
                r[key] = recv + k[name]


def breakdown(results: list[dict]) -> list[dict]:
    rows = []
    for name, start, stop in STAGES:
        spans = [
            {"span": r[stop] - (r[start] if start else 0.0)}
            for r in results
            if r.get(stop) is not None and (start is None or r.get(start) is not None)
        ]
        rows.append(summarize(name, spans, "span"))
    handled = [{"span": r["kDone"] - r["kRecv"]} for r in results if r.get("kDone") is not None]
    rows.append(
        summarize("kernel handler, start → return (ack + anything after it)", handled, "span")
    )
    return rows


def print_table(rows: list[dict]) -> None:
    print("| measure | n | median | p95 | max |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['measure']} | {row['n']} | {row['median_ms']:.1f} ms | "
            f"{row['p95_ms']:.1f} ms | {row['max_ms']:.1f} ms |"
        )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--burst", type=int, default=24, help="keys in the burst (0: none)")
    parser.add_argument("--burst-interval", type=int, default=40, help="ms between burst keys")
    parser.add_argument(
        "--notebook",
        default="bench.ipynb",
        help="a notebook of tests/ui/notebooks that displays one Labeler named `labeler` "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help="instead of --notebook: a generated pool of this many rows x 20 features",
    )
    parser.add_argument("--out", default=str(RESULTS), help="JSON results (default: %(default)s)")
    args = parser.parse_args()

    ui = load_helpers()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="hitl-bench-browser-"))
    notebook, timings_cell = prepare_notebook(base / "notebooks", args.notebook, args.rows)
    load_before = load_average()
    server = ui.start_lab(base / "lab", notebooks=base / "notebooks")
    rows: list[dict] = []
    stages: list[dict] = []
    fast = None
    try:
        with sync_playwright() as playwright:
            context = ui.launch_browser(playwright, base / "chromium-profile")
            try:
                page = context.new_page()
                page.add_init_script(WIRE)
                ui.attach_recorders(page)
                page.set_default_timeout(30_000)
                started = time.perf_counter()
                root = ui.open_and_run(page, server, notebook)
                ready_s = time.perf_counter() - started
                initial = root.locator(".hitl-counts").inner_text()
                buttons = root.locator(".hitl-class-btn")
                version = context.browser.version if context.browser else "?"

                def click(i: int) -> None:
                    buttons.nth(i % 2).click()

                def key(i: int) -> None:
                    page.keyboard.press("1" if i % 2 == 0 else "2")

                measure(page, root, click, args.warmup)
                clicks = measure(page, root, click, args.clicks)
                root.click(position={"x": 3, "y": 3})  # focus the widget for its keys
                keys = measure(page, root, key, args.keys)
                fast = burst(page, root, args.burst, args.burst_interval) if args.burst else None
                labeled = root.locator(".hitl-counts").inner_text()
                echo = measure_echo(page, args.warmup + args.clicks)[args.warmup :]
                kernel = kernel_timings(ui, page, timings_cell)
                add_kernel_times(clicks + keys, kernel)
                rows = [
                    summarize("click → card updated (DOM)", clicks, "card"),
                    summarize("click → next frame", clicks, "frame"),
                    summarize('click → "saved" (kernel commit + ack)', clicks, "saved"),
                    summarize("key → card updated (DOM)", keys, "card"),
                    summarize('key → "saved" (kernel commit + ack)', keys, "saved"),
                    summarize(
                        'reference: click → "saved", a widget that only answers', echo, "saved"
                    ),
                ]
                stages = breakdown(clicks + keys)
            finally:
                context.close()
    finally:
        ui.stop_lab(server)
        log = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        if not rows:
            print(log[-3000:], file=sys.stderr)
    load_after = load_average()

    print(
        f"Labeler in JupyterLab + headless Chromium {version} ({platform.machine()}, "
        f"{sys.platform}, {os.cpu_count()} cores, load average {load_before} before, "
        f"{load_after} after); {notebook}: before {initial!r}, after {labeled!r}; "
        f"notebook ready in {ready_s:.1f} s\n"
    )
    print_table(rows)
    if any(row["n"] for row in stages):
        print('\nWhere "saved" waits (clicks and keys together, per label):\n')
        print_table(stages)
    if fast:
        print(
            f"\nBurst: {fast['keys']} keys, one every {fast['interval_ms']} ms: "
            f"{fast['labels']} labels stored, all saved {fast.get('saved', float('nan')):.0f} ms "
            f"after the first key; the card was empty (waiting for the kernel, keys ignored) "
            f"{fast['empty']} times, {fast['emptyMs']:.0f} ms in all."
        )
    card_p95 = max(rows[0]["p95_ms"], rows[3]["p95_ms"])
    saved = [rows[2], rows[4]]
    saved_ok = all(r["median_ms"] <= SAVED_MEDIAN_MS and r["p95_ms"] <= SAVED_P95_MS for r in saved)
    verdict = "met" if card_p95 < GOAL_MS else "NOT met"
    print(
        f"\nGoal: card updated < {GOAL_MS:.0f} ms after the input: {verdict} "
        f"(worst p95 {card_p95:.1f} ms)."
    )
    print(
        f'Goal: "saved" median <= {SAVED_MEDIAN_MS:.0f} ms, p95 <= {SAVED_P95_MS:.0f} ms: '
        f"{'met' if saved_ok else 'NOT met'} (click {rows[2]['median_ms']:.1f} / "
        f"{rows[2]['p95_ms']:.1f} ms, key {rows[4]['median_ms']:.1f} / {rows[4]['p95_ms']:.1f} ms; "
        f"the reference widget that only answers: {rows[5]['median_ms']:.1f} / "
        f"{rows[5]['p95_ms']:.1f} ms on this machine now)."
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "chromium": version,
                "notebook": notebook,
                "rows": args.rows,
                "load_average": [load_before, load_after],
                "ready_s": ready_s,
                "results": rows,
                "where_saved_waits": stages,
                "burst": fast,
                "echo": echo,
                "clicks": clicks,
                "keys": keys,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if card_p95 < GOAL_MS and saved_ok else 1


if __name__ == "__main__":
    sys.exit(main())
