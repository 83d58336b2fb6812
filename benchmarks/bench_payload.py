"""What a dashboard costs: bytes over the websocket, Python time per redraw, latency.

Pool: N rows x 20 numeric features, a categorical and a numeric (binned) subgroup
column, a truth column; 60 simulated labels before the dashboard is shown.

Python (no browser), for N = 10k, 100k, 1M, Routing tab closed and open: the bytes of
the dataset updates one redraw sends (each `Rows` widget's comm messages, recorded) and
the time from a fit finishing to the redraw's rows being sent, split into the core's
`metrics()` and `routing_curve()` and the dashboard's own work (rows, diff, send), and
the time to the first send (the main charts, before the slower numbers follow), over
--redraws labels given one at a time (`submit`, then the refit).

Browser (--browser; real JupyterLab + Chromium via tests/ui/conftest.py), for N = 10k
and 1M: websocket bytes received for the first dashboard display of a kernel (cell run
to three charts drawn: the vega runtime included), for a second display (no runtime),
per redraw (a cell that labels one item through the API: label, refit, redraw, with
one dashboard on the page), and the latency from the kernel's fit_done to the first
change of a main chart in the page (core metrics included).

Run: .venv/bin/python benchmarks/bench_payload.py [--redraws 5] [--browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

import hitl_widgets as hw

REPO = Path(__file__).resolve().parents[1]
N_FEATURES = 20
LABELS = 60


def pool(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, N_FEATURES))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(N_FEATURES)])
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=n)
    frame["age"] = rng.integers(18, 80, size=n)
    frame["truth"] = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "pos", "neg")
    return frame


def session_of(n: int) -> hw.Session:
    """The benchmark's session (here and in the notebooks): N rows, 60 labels, refit done."""
    s = hw.Session(
        pool(n),
        classes=["neg", "pos"],
        features=[f"x{i}" for i in range(N_FEATURES)],
        subgroups=["region", "age"],
        truth="truth",
        store=":memory:",
        random_state=0,
        audit_share=0.2,
    )
    s.simulate(LABELS)
    s.wait()
    return s


def settle(dashboard: hw.Dashboard, timeout: float = 120.0) -> None:
    """Wait until the dashboard shows the session's labels and model and is idle (a fit's
    observers can run just after `Session.wait` returns, so poll the public state)."""
    deadline = time.monotonic() + timeout
    session = dashboard.session
    session.wait(timeout)
    while True:
        s, shown = session.status, dashboard.status
        done = (shown["labeled"], shown["model_version"]) == (s.n_labeled, s.model_version)
        if done and s.fit_state != "fitting" and dashboard.wait(timeout):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard did not catch up with the session")
        time.sleep(0.001)


def timed(fn, spent: list[float]):
    """`fn`, adding the seconds of each call to `spent`."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    return wrapper


def python_costs(n: int, redraws: int, routing: bool) -> dict:
    """Bytes per redraw and fit_done -> rows sent, measured in this process; the share
    of the time spent in the core (`metrics()`, `routing_curve()`) reported apart.
    `routing`: the Routing tab is open (its curve is computed on every redraw)."""
    session = session_of(n)
    fit_done: list[float] = []
    session.observe(
        lambda kind: fit_done.append(time.perf_counter()) if kind == "fit_done" else None
    )
    metrics: list[float] = []
    curve: list[float] = []
    session.metrics = timed(session.metrics, metrics)
    session.routing_curve = timed(session.routing_curve, curve)
    dashboard = hw.Dashboard(session)
    sent: list[int] = []
    first: list[float] = []  # when the uncertainty chart's rows left (the first send)

    def recorder(name: str):
        def send(data=None, metadata=None, buffers=None):
            sent.append(len(json.dumps(data)))
            if name == "uncertainty" and not first:
                first.append(time.perf_counter())

        return send

    for name, rows in dashboard.data.items():
        rows.comm.send = recorder(name)
    dashboard.comm.send = lambda *a, **k: None
    if routing:  # what the browser says when the Routing tab opens
        message = {"kind": "opened", "chart": "routing"}
        content = {"data": {"method": "custom", "content": message}}
        dashboard.comm.handle_msg({"content": content, "buffers": []})
        dashboard.wait()
    total, in_metrics, in_curve, sizes, main = [], [], [], [], []
    for _ in range(redraws):
        for spent in (sent, metrics, curve, first):
            spent.clear()
        item = session.queue(1).index[0]
        session.submit(item, session.data.loc[item, "truth"])
        settle(dashboard)
        total.append(time.perf_counter() - fit_done[-1])
        main.append(first[0] - fit_done[-1] if first else float("nan"))
        in_metrics.append(sum(metrics))
        in_curve.append(sum(curve))
        sizes.append(sum(sent))
    dashboard.close()
    session.close()
    median = statistics.median
    return {
        "rows": n,
        "routing tab": "open" if routing else "closed",
        "bytes per redraw": median(sizes),
        "fit_done to main charts sent, ms": 1000 * median(main),
        "fit_done to rows sent, ms": 1000 * median(total),
        "in metrics(), ms": 1000 * median(in_metrics),
        "in routing_curve(), ms": 1000 * median(in_curve),
        "dashboard's own, ms": 1000
        * median(t - m - c for t, m, c in zip(total, in_metrics, in_curve, strict=True)),
    }


# ------------------------------------------------------------------ browser
def load_helpers():
    """tests/ui/conftest.py as a plain module (it holds the server/browser logic)."""
    path = REPO / "tests" / "ui" / "conftest.py"
    spec = importlib.util.spec_from_file_location("hitl_ui_helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SETUP, SHOW, LABEL, AGAIN = 0, 1, 2, 3


def notebook(n: int) -> nbformat.NotebookNode:
    cells = [
        f"import sys, time\nsys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
        "import hitl_widgets as hw\nfrom bench_payload import session_of, settle\n"
        f"session = session_of({n})\nfit_done = []\n"
        "session.observe(lambda kind: kind == 'fit_done' and fit_done.append(time.time()))",
        "dashboard = hw.Dashboard(session)\ndashboard",
        # one label as a person gives it (simulate() would add its progress-bar widgets)
        "item = session.queue(1).index[0]\n"
        "session.submit(item, session.data.loc[item, 'truth'])\n"
        "settle(dashboard)\nprint('FIT_DONE', fit_done[-1])",
        "hw.Dashboard(session)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


# records the page time of every change under the main charts of the first dashboard
WATCH = """() => {
    window.__hitlChanges = [];
    if (window.__hitlWatching) return;
    window.__hitlWatching = true;
    const main = document.querySelector('.hitl-dashboard .hitl-dash-main');
    new MutationObserver(() => window.__hitlChanges.push(Date.now()))
        .observe(main, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
CHARTS_DRAWN = """(n) => [...document.querySelectorAll('.hitl-dashboard')]
    .filter((d) => d.querySelectorAll('.hitl-dash-main svg.marks').length === 3).length >= n"""


def browser_costs(ui, page, server, n: int, redraws: int) -> dict:
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda p: frames.append(len(p))))
    ui.open_notebook(page, server, f"payload_{n}.ipynb")
    run = lambda index: ui.run_cell(page, index, timeout_ms=600_000)  # noqa: E731
    run(SETUP)
    frames.clear()
    run(SHOW)
    page.wait_for_function(CHARTS_DRAWN, arg=1, timeout=120_000)
    page.wait_for_timeout(500)
    display = sum(frames)
    sizes, latency = [], []
    for _ in range(redraws):
        page.evaluate(WATCH)
        frames.clear()
        output = run(LABEL)
        page.wait_for_timeout(800)
        sizes.append(sum(frames))
        fit_ms = 1000 * float(output.split("FIT_DONE", 1)[1].split()[0])
        changes = [t for t in page.evaluate("window.__hitlChanges") if t >= fit_ms]
        if changes:
            latency.append(changes[0] - fit_ms)
    frames.clear()
    run(AGAIN)
    page.wait_for_function(CHARTS_DRAWN, arg=2, timeout=120_000)
    page.wait_for_timeout(500)
    again = sum(frames)
    return {
        "rows": n,
        "display": display,
        "second display": again,
        "redraw": statistics.median(sizes),
        "fit to chart ms": statistics.median(latency) if latency else float("nan"),
    }


def run_browser(sizes: list[int], redraws: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    ui = load_helpers()
    base = Path(tempfile.mkdtemp(prefix="hitl-payload-"))
    notebooks = base / "notebooks"
    notebooks.mkdir()
    for n in sizes:
        nbformat.write(notebook(n), notebooks / f"payload_{n}.ipynb")
    server = ui.start_lab(base / "lab", notebooks)
    results = []
    try:
        with sync_playwright() as playwright:
            context = ui.launch_browser(playwright, base / "profile")
            for n in sizes:
                page = context.new_page()
                page.set_default_timeout(120_000)
                results.append(browser_costs(ui, page, server, n, redraws))
                page.close()
                ui.shutdown_kernels(server)
            context.close()
    finally:
        ui.stop_lab(server)
    return results


def table(rows: list[dict]) -> str:
    """Markdown: counts of bytes and rows with thousands separators, times in ms."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---:|" * len(keys)]
    for row in rows:
        cells = [
            v if isinstance(v, str) else f"{v:.1f}" if "ms" in k else f"{v:,.0f}"
            for k, v in row.items()
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redraws", type=int, default=5)
    parser.add_argument(
        "--browser", action="store_true", help="also measure in JupyterLab + Chromium"
    )
    args = parser.parse_args()
    python = [
        python_costs(n, args.redraws, routing)
        for n in (10_000, 100_000, 1_000_000)
        for routing in (False, True)
    ]
    print("Python, per redraw after a single-label refit (median):")
    print(table(python))
    if args.browser:
        print("\nBrowser, websocket bytes received and fit_done -> chart changed (median):")
        print(table(run_browser([10_000, 1_000_000], args.redraws)))


if __name__ == "__main__":
    main()
