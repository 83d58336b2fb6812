"""Real-browser fixtures: a JupyterLab server and a headless Chromium (Playwright, sync API).

The recipe is /work/shared/BROWSER_TESTING.md (measured on these machines). The logic lives in
plain functions (`start_lab`, `stop_lab`, `launch_browser`, `open_notebook`, `run_all`, ...)
so that `benchmarks/bench_browser.py` can use it without pytest; the fixtures only wrap them.

Browser: Debian's Chromium (`chromium` on PATH or /usr/bin/chromium) when present, else
Playwright's own (`playwright install chromium`). With CI=true a missing browser is a test
failure, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NOTEBOOKS = HERE / "notebooks"
ARTIFACTS = REPO / "test-artifacts"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

# BROWSER_TESTING.md: without the networking flags Chromium keeps calling hosts that this
# closed network refuses. Playwright adds its own --headless too; the duplicate is harmless.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_TIMEOUT = 90.0
KERNEL_TIMEOUT_MS = 60_000
EXECUTED_PROMPT = re.compile(r"^\[\d+\]:?$")


class BrowserUnavailable(RuntimeError):
    """Neither Debian's Chromium nor Playwright's bundled Chromium is installed."""


# --------------------------------------------------------------------------- server
@dataclass
class LabServer:
    proc: subprocess.Popen
    port: int
    token: str
    root_dir: Path
    log_path: Path
    base_dir: Path
    log_file: Any = field(repr=False, default=None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        # ?reset drops a saved workspace layout (another test's open notebook)
        return f"{self.base_url}/lab/tree/{quote(name)}?reset&token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10.0) -> tuple[int, Any]:
        """Call the server's REST API; returns (status, parsed JSON body or None)."""
        sep = "&" if "?" in path else "?"
        request = urllib.request.Request(
            f"{self.base_url}{path}{sep}token={self.token}", method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = response.read()
                return response.status, json.loads(body) if body else None
        except urllib.error.HTTPError as exc:
            return exc.code, None

    def log_tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_env(base_dir: Path) -> dict[str, str]:
    """The environment of the server: its own config, runtime, settings and IPython dirs."""
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("IPYTHONDIR", "ipython"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),  # notebook_secret etc.: not in ~/.local
    ):
        path = base_dir / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    # No "get Jupyter news?" toast: it can cover the widget in a 1000 px viewport.
    notification = (
        base_dir
        / "lab-settings"
        / "@jupyterlab"
        / "apputils-extension"
        / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("JUPYTER_TOKEN", None)
    return env


def start_lab(
    base_dir: Path, notebooks: Path = NOTEBOOKS, timeout: float = SERVER_START_TIMEOUT
) -> LabServer:
    """Start `jupyter lab` on a free port with root_dir = a fresh copy of `notebooks`.

    Ready when GET /api/status answers 200. The server's stdout/stderr go to
    base_dir/jupyter-server.log. Raises RuntimeError (with the log's tail) on failure.
    """
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    root_dir = base_dir / "root"
    if root_dir.exists():
        shutil.rmtree(root_dir)
    root_dir.mkdir()
    for notebook in sorted(notebooks.glob("*.ipynb")):
        shutil.copy2(notebook, root_dir / notebook.name)
    env = lab_env(base_dir)
    log_path = base_dir / "jupyter-server.log"
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port, token = free_port(), secrets.token_hex(16)
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # jupyter refuses to start as root otherwise
        log_file = open(log_path, "ab")  # noqa: SIM115 (closed in stop_lab)
        log_file.write(f"\n$ {' '.join(cmd).replace(token, '<token>')}\n".encode())
        log_file.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop_lab can kill the group
        )
        server = LabServer(proc, port, token, root_dir, log_path, base_dir, log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            with contextlib.suppress(OSError):
                status, _ = server.api("GET", "/api/status", timeout=2.0)
                if status == 200:
                    return server
            time.sleep(0.25)
        last_error = server.log_tail()
        stop_lab(server)
        if "address already in use" not in last_error.lower():
            break
    raise RuntimeError(f"JupyterLab did not start (log {log_path}):\n{last_error}")


def shutdown_kernels(server: LabServer) -> None:
    """Shut down every kernel of the server (after a test, so the next starts clean)."""
    with contextlib.suppress(OSError, ValueError):
        status, kernels = server.api("GET", "/api/kernels")
        if status == 200 and kernels:
            for kernel in kernels:
                server.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20.0)


def stop_lab(server: LabServer, grace: float = 10.0) -> None:
    """Stop the server we started: SIGTERM, a grace period, then SIGKILL its process group."""
    proc = server.proc
    if proc.poll() is None:
        shutdown_kernels(server)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # the group is ours (start_new_session): reap anything left in it
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    if server.log_file is not None:
        server.log_file.close()
        server.log_file = None


# -------------------------------------------------------------------------- browser
def find_chromium() -> str | None:
    """Debian's Chromium if installed, else None (then Playwright's own is tried)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def chromium_executable(playwright: Any) -> str | None:
    """The executable to launch: Debian's, else Playwright's bundled one (None = bundled).

    Raises BrowserUnavailable when there is neither.
    """
    system = find_chromium()
    if system:
        return system
    bundled = playwright.chromium.executable_path
    if bundled and Path(bundled).exists():
        return None
    raise BrowserUnavailable(
        "no Chromium: install Debian's (apt-get install chromium) or run "
        "`python -m playwright install chromium` (bundled path would be "
        f"{bundled})"
    )


def launch_browser(playwright: Any, user_data_dir: Path) -> Any:
    """A persistent Chromium context on a fresh user-data dir, with the recipe's flags."""
    executable = chromium_executable(playwright)
    Path(user_data_dir).mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=executable,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport=VIEWPORT,
    )


# ------------------------------------------------------------------ page helpers
def attach_recorders(page: Any) -> dict[str, list]:
    """Record console messages, page errors and native dialogs (dialogs are dismissed)."""
    records: dict[str, list] = {"console": [], "pageerror": [], "dialog": []}
    page.on("console", lambda m: records["console"].append(f"[{m.type}] {m.text}"))
    page.on("pageerror", lambda e: records["pageerror"].append(str(e)))

    def on_dialog(dialog: Any) -> None:
        records["dialog"].append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(Exception):
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.hitl_records = records  # for the failure report
    return records


def wait_kernel_ready(page: Any, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
    """The kernel is really ready: a kernel name is shown AND the indicator says idle.

    (The indicator alone says idle too early; running cells then opens a kernel dialog.)
    """
    page.wait_for_function(
        """() => {
            const names = [...document.querySelectorAll('.jp-KernelName')]
                .map((el) => el.textContent.trim()).filter(Boolean);
            const named = names.length > 0 && names.every((t) => t !== 'No Kernel'
                && !/^kernel$/i.test(t));
            const idle = document.querySelector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle']");
            return named && idle !== null;
        }""",
        timeout=timeout_ms,
    )


def open_notebook(page: Any, server: LabServer, name: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is really ready."""
    page.goto(server.notebook_url(name), wait_until="domcontentloaded", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
    wait_kernel_ready(page)


def run_all(page: Any) -> None:
    """Run > Run All Cells, through the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def code_prompts(page: Any) -> list[str]:
    return [
        t.strip()
        for t in page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
    ]


def wait_all_executed(page: Any, timeout_ms: int = 90_000) -> None:
    """Every code cell's prompt reads [n] (not [ ] or [*])."""
    page.wait_for_function(
        """(pattern) => {
            const re = new RegExp(pattern);
            const prompts = [...document.querySelectorAll(
                '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every((p) => re.test(p.textContent.trim()));
        }""",
        arg=EXECUTED_PROMPT.pattern,
        timeout=timeout_ms,
    )


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def cell_output_text(page: Any, index: int) -> str:
    return "\n".join(cell(page, index).locator(".jp-OutputArea-output").all_inner_texts())


def run_cell(page: Any, index: int, timeout_ms: int = 60_000) -> str:
    """Re-run one cell in place (click its prompt, Control+Enter); returns its output text."""
    prompt = cell(page, index).locator(".jp-InputArea-prompt")
    before = prompt.inner_text().strip()
    prompt.click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """([el, before, pattern]) => {
            const text = el.textContent.trim();
            return text !== before && new RegExp(pattern).test(text);
        }""",
        arg=[prompt.element_handle(), before, EXECUTED_PROMPT.pattern],
        timeout=timeout_ms,
    )
    return cell_output_text(page, index)


def notebook_errors(page: Any) -> list[str]:
    """Texts of the outputs that hold a Python traceback."""
    return [
        text
        for text in page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts()
        if "Traceback (most recent call last)" in text
    ]


def open_and_run(page: Any, server: LabServer, name: str) -> Any:
    """Open a notebook, Run All, wait for every cell and for a labeler; returns its root.

    A cell that raised fails at once with its traceback (not after a 60 s wait).
    """
    open_notebook(page, server, name)
    run_all(page)
    wait_all_executed(page)
    page.wait_for_function(
        """() => document.querySelector('.jp-OutputArea-output .hitl-labeler') !== null
            || [...document.querySelectorAll('.jp-OutputArea-output')]
                .some((o) => o.textContent.includes('Traceback (most recent call last)'))""",
        timeout=60_000,
    )
    errors = notebook_errors(page)
    if errors:
        raise AssertionError(f"a cell of {name} raised:\n{errors[0][-4000:]}")
    root = page.locator(".jp-OutputArea-output .hitl-labeler").first
    root.wait_for(state="visible", timeout=30_000)
    return root


def save_failure_artifacts(
    page: Any, server: LabServer | None, name: str, directory: Path = ARTIFACTS
) -> list[Path]:
    """Screenshot, server log and browser console of a failed test, under test-artifacts/."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]
    saved = []
    if page is not None:
        with contextlib.suppress(Exception):
            path = directory / f"{stem}.png"
            page.screenshot(path=str(path), full_page=True, timeout=15_000)
            saved.append(path)
        records = getattr(page, "_hitl_records", None)
        if records:
            path = directory / f"{stem}-browser.log"
            path.write_text(
                "\n".join(f"{kind}: {line}" for kind, lines in records.items() for line in lines)
            )
            saved.append(path)
    if server is not None and server.log_path.exists():
        path = directory / f"{stem}-jupyter-server.log"
        shutil.copy(server.log_path, path)
        saved.append(path)
    return saved


# ------------------------------------------------------------------------- pytest
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.ui)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)  # read by lab_page to keep artifacts
    return report


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sync_api() -> Any:
    try:
        from playwright import sync_api
    except ImportError as exc:  # pragma: no cover - depends on the install
        _unavailable(f"Python playwright is not installed ({exc})")
    return sync_api


@pytest.fixture(scope="session")
def browser(sync_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A persistent Chromium context (fresh user-data dir) for the whole session."""
    playwright = sync_api.sync_playwright().start()
    try:
        try:
            context = launch_browser(playwright, tmp_path_factory.mktemp("chromium-profile"))
        except BrowserUnavailable as exc:
            _unavailable(str(exc))
        yield context
        with contextlib.suppress(Exception):
            context.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = start_lab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def lab_page(request: pytest.FixtureRequest, browser: Any, lab_server: LabServer) -> Iterator[Any]:
    """A fresh tab; on failure its screenshot, console and the server log are kept."""
    page = browser.new_page()
    attach_recorders(page)
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            saved = save_failure_artifacts(page, lab_server, request.node.nodeid)
            print("kept:", *map(str, saved), sep="\n  ")
        with contextlib.suppress(Exception):
            page.close()
        shutdown_kernels(lab_server)


@pytest.fixture(scope="session")
def ui() -> Any:
    """The helpers of this module (open_and_run, run_cell, cell, ARTIFACTS, ...) for tests.

    Tests get them through this fixture rather than `import conftest`, which depends on
    sys.path and on there being a single conftest module.
    """
    return sys.modules[__name__]


# ------------------------------------------- helpers for whole notebooks (added later)
# Used by test_notebooks_browser.py; generic enough for any test that opens a notebook.
LOOPBACK_URL = re.compile(r"^(https?://(127\.0\.0\.1|localhost)(:\d+)?/|data:|blob:)")
CHART_SURFACES = ".jp-OutputArea-output :is(svg.marks, canvas.marks)"
ERROR_TEXTS = ("Error loading script", "Traceback", "Error displaying widget")

# every descendant of an output area whose box ends right of the area's right edge
CLIPPED_JS = """() => {
  const out = [];
  for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
    const edge = area.getBoundingClientRect().right + 0.5;
    for (const el of area.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.width > 0 && box.right > edge) {
        const name = `${el.tagName}.${el.getAttribute('class') || ''}`;
        out.push(`${name} ends at ${Math.round(box.right)}, edge ${Math.round(edge)}`);
      }
    }
  }
  return out;
}"""


def block_non_loopback(page: Any) -> list[str]:
    """Abort every request that is not loopback, data: or blob:; returns the list of the
    blocked URLs (filled as the page runs). Installed before the page navigates."""
    blocked: list[str] = []

    def only_local(route: Any) -> None:
        if LOOPBACK_URL.match(route.request.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    return blocked


def open_and_run_all(page: Any, server: LabServer, name: str, timeout_ms: int = 300_000) -> None:
    """Open a notebook, Run All, and wait until every code cell ran (no labeler needed,
    a longer budget than `open_and_run`). A cell that raised fails with its traceback."""
    open_notebook(page, server, name)
    run_all(page)
    page.wait_for_function(
        """(pattern) => {
            const re = new RegExp(pattern);
            const prompts = [...document.querySelectorAll(
                '.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')];
            const done = prompts.length > 0
                && prompts.every((p) => re.test(p.textContent.trim()));
            const failed = [...document.querySelectorAll('.jp-OutputArea-output')]
                .some((o) => o.textContent.includes('Traceback (most recent call last)'));
            return done || failed;
        }""",
        arg=EXECUTED_PROMPT.pattern,
        timeout=timeout_ms,
        polling=500,
    )
    errors = notebook_errors(page)
    if errors:
        raise AssertionError(f"a cell of {name} raised:\n{errors[0][-4000:]}")


def output_error_texts(page: Any, needles: tuple[str, ...] = ERROR_TEXTS) -> list[str]:
    """Output areas whose text (textContent: also of cells scrolled out of view) holds one
    of `needles`; each returned as its first 600 characters around the match."""
    return page.evaluate(
        """(needles) => {
            const found = [];
            for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
                const text = area.textContent || '';
                for (const needle of needles) {
                    const at = text.indexOf(needle);
                    if (at >= 0) found.push(text.slice(Math.max(0, at - 100), at + 500));
                }
            }
            return found;
        }""",
        list(needles),
    )


def wait_stable_count(
    page: Any, selector: str, settle_ms: int = 3_000, timeout_ms: int = 90_000
) -> int:
    """Poll the number of elements matching `selector` until it stays the same for
    `settle_ms` (charts draw after the kernel is idle); returns it."""
    deadline = time.monotonic() + timeout_ms / 1000
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = page.locator(selector).count()
        if count != last:
            last, since = count, time.monotonic()
        elif (time.monotonic() - since) * 1000 >= settle_ms:
            return count
        page.wait_for_timeout(250)
    return last


def scroll_notebook(page: Any, on_step: Any, step: float = 0.8) -> int:
    """Scroll the notebook from the top in steps of `step` viewport heights (JupyterLab
    scrolls inside `.jp-WindowedPanel-outer`, not the page) and call `on_step(i)` at
    each stop, the top included; returns the number of stops."""
    panel = page.locator(".jp-NotebookPanel .jp-WindowedPanel-outer").first
    panel.evaluate("el => el.scrollTo(0, 0)")
    stops = 0
    while True:
        page.wait_for_timeout(200)
        on_step(stops)
        stops += 1
        # stop once the last cell ends inside the view (below it is only padding)
        moved = panel.evaluate(
            f"""el => {{
                const cells = el.querySelectorAll('.jp-Cell');
                const last = cells[cells.length - 1];
                if (last && last.getBoundingClientRect().bottom
                        <= el.getBoundingClientRect().bottom) return false;
                const before = el.scrollTop;
                el.scrollBy(0, el.clientHeight * {step});
                return el.scrollTop !== before; }}"""
        )
        if not moved or stops > 200:
            return stops


def kernel_of(server: LabServer, notebook: str) -> str:
    """The id of the kernel of the server's session for `notebook` (a path in root_dir)."""
    status, sessions = server.api("GET", "/api/sessions")
    assert status == 200, status
    for session in sessions or []:
        if session.get("path") == notebook and session.get("kernel"):
            return session["kernel"]["id"]
    raise AssertionError(f"no kernel for {notebook}: {sessions}")


def run_in_kernel(server: LabServer, notebook: str, code: str, timeout: float = 60.0) -> str:
    """Run `code` in the live kernel of `notebook` through a second client (its connection
    file is in the server's runtime dir), without touching the page; returns its stdout.

    The notebook's cells, prompts and history stay as they are: the code is not stored in
    the kernel's history and JupyterLab ignores replies to requests it did not send.
    """
    from jupyter_client import BlockingKernelClient

    path = server.base_dir / "jupyter-runtime" / f"kernel-{kernel_of(server, notebook)}.json"
    client = BlockingKernelClient(connection_file=str(path))
    client.load_connection_file()
    client.start_channels()
    out: list[str] = []

    def hook(msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream" and content.get("name") == "stdout":
            out.append(content["text"])
        elif kind == "error":
            out.append("\n".join(content.get("traceback", [])))

    try:
        client.wait_for_ready(timeout=timeout)
        reply = client.execute_interactive(
            code, store_history=False, timeout=timeout, output_hook=hook
        )
    finally:
        client.stop_channels()
    if reply["content"].get("status") != "ok":
        raise AssertionError(f"code in the kernel of {notebook} failed:\n{''.join(out)}")
    return "".join(out)
