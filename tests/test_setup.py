"""The user's first steps: `make demo` starts JupyterLab (as root and as a normal user), and
the sdist installs on a machine without Node.js.

These run real processes: `make`, `jupyter lab` (stopped by the PID the test started), the
sdist build (PEP 517, through `build`) and pip into a fresh virtualenv whose PATH has no
node or npm.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
SKIP_DIRS = {".git", ".venv", "node_modules", "test-artifacts", "dist", "build", ".ruff_cache"}
SKIP_DIRS |= {".pytest_cache", "__pycache__", ".ipynb_checkpoints", "benchmarks"}


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def static_files() -> tuple[str, ...]:
    """STATIC_FILES of hatch_build.py, read without importing hatchling."""
    tree = ast.parse((REPO / "hatch_build.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "STATIC_FILES" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            assert isinstance(value, tuple) and value, "STATIC_FILES must be a non-empty tuple"
            return value
    raise AssertionError("hatch_build.py has no STATIC_FILES")


def lab_env(base: Path) -> dict[str, str]:
    """The isolated environment of the browser tests' server (its own config, runtime,
    settings, data and IPython dirs), from tests/ui/conftest.py."""
    return _load("hitl_ui_conftest", REPO / "tests" / "ui" / "conftest.py").lab_env(base)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_code(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop what we started: SIGTERM to its process group, then SIGKILL after a grace."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


# ------------------------------------------------------------------------ make demo
def demo_command(port: int, token: str, venv: Path) -> list[str]:
    """`make demo` without its install step (-o: the test must not reinstall the venv)."""
    args = (
        "--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token} --LabApp.news_url= "
        "--LabApp.extension_manager=readonly"
    )
    return [
        "make",
        "--no-print-directory",
        "-o",
        "install-demo",
        "demo",
        f"VENV={venv}",
        f"PORT={port}",
        f"JUPYTER_ARGS={args}",
    ]


def demo_tree(base: Path) -> Path:
    """The Makefile and the notebooks, as a user's checkout has them."""
    work = base / "checkout"
    work.mkdir(parents=True)
    shutil.copy2(REPO / "Makefile", work / "Makefile")
    shutil.copytree(REPO / "notebooks", work / "notebooks")
    return work


def run_demo(
    base: Path, *, user: tuple[int, int] | None = None, venv: Path = Path(sys.prefix)
) -> list[str]:
    """Start `make demo` in a copy of the checkout, wait for /api/status to answer 200
    and for the quickstart notebook to be served (the server's root is notebooks/), stop it;
    returns the server log."""
    if not (venv / "bin" / "jupyter").exists():
        pytest.skip(f"no jupyter in {venv} (make install-demo installs it)")
    work = demo_tree(base)
    env = lab_env(base / "env")
    env["HOME"] = str(base / "home")
    (base / "home").mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log_path = base / "demo.log"
    preexec = None
    if user is not None:
        uid, gid = user
        for path in [base, *base.rglob("*")]:
            os.chown(path, uid, gid)

        def preexec() -> None:  # drop root for the whole `make demo`
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            demo_command(port, token, venv),
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: make, then jupyter under it
            preexec_fn=preexec,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            status = None
            while time.monotonic() < deadline and proc.poll() is None:
                status = status_code(f"{base_url}/api/status?token={token}")
                if status == 200:
                    break
                time.sleep(0.25)
            log_text = log_path.read_text(errors="replace")
            assert status == 200, (
                f"make demo did not serve /api/status (rc={proc.poll()}):\n{log_text}"
            )
            notebook = status_code(
                f"{base_url}/api/contents/quickstart.ipynb?content=0&token={token}"
            )
            assert notebook == 200, notebook
            assert status_code(f"{base_url}/api/status") == 403  # the token is required
        finally:
            stop_group(proc)
    assert proc.returncode is not None
    return log_path.read_text(errors="replace").splitlines()


def test_make_demo_passes_allow_root_only_as_root(tmp_path):
    """The command `make demo` runs, for root and for another user (a stand-in `id`)."""
    for uid, expected in (("0", True), ("1000", False)):
        fake = tmp_path / f"bin-{uid}"
        fake.mkdir()
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "id").chmod(0o755)
        env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
        out = subprocess.run(
            ["make", "--no-print-directory", "-n", "demo", "PORT=8999"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        lab = [line for line in out if " lab " in f"{line} "]
        assert len(lab) == 1, out
        assert ("--allow-root" in lab[0].split()) is expected, lab
        assert "--ServerApp.port=8999" in lab[0] and lab[0].endswith("notebooks/quickstart.ipynb")
        assert any('pip install --quiet -e ".[demo]"' in line for line in out), out


def test_make_demo_serves_jupyterlab(tmp_path):
    lines = run_demo(tmp_path)
    command = next(line for line in lines if "jupyter lab" in line)
    assert ("--allow-root" in command) is (os.geteuid() == 0), command
    assert not any("Running as root is not recommended" in line for line in lines), lines


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop")
def test_make_demo_serves_jupyterlab_as_a_normal_user():
    """The same `make demo`, run as `nobody`: no --allow-root, and JupyterLab starts.

    When `nobody` cannot run this virtualenv (its interpreter under /root, mode 700, as
    pyenv puts it), the test gives `nobody` a virtualenv of the system's Python with
    JupyterLab in it, as a normal user of the machine would have.
    """
    base = Path(tempfile.mkdtemp(prefix="hitl-demo-user-"))
    try:
        base.chmod(0o755)
        venv = Path(sys.prefix)
        if not runs_as_nobody(venv / "bin" / "jupyter"):
            venv = base / "venv"
            system = shutil.which("python3", path="/usr/bin:/usr/local/bin")
            assert system and runs_as_nobody(Path(system)), "no Python that nobody can run"
            subprocess.run([system, "-m", "venv", str(venv)], check=True)
            subprocess.run(
                [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "jupyterlab>=4.2"],
                check=True,
                env={**os.environ, "PIP_CACHE_DIR": str(base / "pip-cache")},
            )
        lines = run_demo(base, user=(65534, 65534), venv=venv)
        command = next(line for line in lines if "jupyter lab" in line)
        assert "--allow-root" not in command, command
    finally:
        shutil.rmtree(base, ignore_errors=True)


def runs_as_nobody(program: Path) -> bool:
    """Whether user `nobody` can start `program --version`."""
    try:
        probe = subprocess.run(
            [program, "--version"],
            preexec_fn=lambda: (os.setgroups([]), os.setgid(65534), os.setuid(65534)),
            capture_output=True,
        )
    except OSError:
        return False
    return probe.returncode == 0


# ----------------------------------------------------------------------- the sdist
def copy_checkout(dest: Path, *, with_static: bool) -> Path:
    """A copy of the source tree as a clone has it (no venv, no node_modules)."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP_DIRS or n.endswith((".sqlite", ".db"))}
        if not with_static and Path(directory) == REPO / "src" / "hitl_widgets":
            skipped.add("static")
        return skipped

    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)
    return dest


def tools_without_node(base: Path) -> str:
    """A PATH for a machine without Node.js: the venv's bin and a few symlinked tools."""
    tools = base / "tools"
    tools.mkdir()
    for name in ("sh", "bash", "tar", "gzip", "cat", "env"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    return str(tools)


def fresh_venv(base: Path) -> Path:
    """A new virtualenv; the test's own site-packages are appended (a .pth file) for the
    package's dependencies and the build backend, so nothing is downloaded."""
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "hitl-test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def pip_into(venv: Path, path: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE", "NPM", "HITL_WIDGETS"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), path])
    assert shutil.which("npm", path=env["PATH"]) is None
    assert shutil.which("node", path=env["PATH"]) is None
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args],
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(shutil.which("npm") is None, reason="building the sdist needs npm")
def test_sdist_ships_the_bundle_and_installs_without_node(tmp_path):
    names = static_files()
    source = copy_checkout(tmp_path / "clone", with_static=False)
    if (REPO / "node_modules").is_dir():
        (source / "node_modules").symlink_to(REPO / "node_modules")  # else the hook runs npm ci
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", tmp_path / "dist"],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "dist").glob("hitl_widgets-*.tar.gz")
    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1]: m for m in tar.getmembers() if "/" in m.name}
        shipped = {
            name: tar.extractfile(members[f"src/hitl_widgets/static/{name}"]).read()  # type: ignore[union-attr]
            for name in names
            if f"src/hitl_widgets/static/{name}" in members
        }
    assert sorted(shipped) == sorted(names), f"the sdist lacks {set(names) - set(shipped)}"
    assert all(shipped.values())

    venv = fresh_venv(tmp_path)
    result = pip_into(
        venv,
        tools_without_node(tmp_path),
        "install",
        "--no-deps",
        "--no-build-isolation",
        str(sdist),
    )
    assert result.returncode == 0, result.stdout + result.stderr

    probe = (
        "import json, hitl_widgets.widgets.labeler as lab, hitl_widgets.widgets.chart as chart\n"
        "print(json.dumps({'module': lab.__file__, 'static': str(chart.STATIC),\n"
        "  'esm': len(str(lab.Labeler._esm)), 'css': len(str(lab.Labeler._css))}))"
    )
    out = subprocess.run(
        [venv / "bin" / "python", "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(info["module"]).is_relative_to(venv), info  # the installed copy, not src/
    static = Path(info["static"])
    for name in names:
        assert (static / name).read_bytes() == shipped[name], name
    assert info["esm"] > 1000 and info["css"] > 100, info


def test_a_clone_without_node_and_without_a_bundle_says_what_is_missing(tmp_path):
    source = copy_checkout(tmp_path / "clone", with_static=False)
    venv = fresh_venv(tmp_path)
    result = pip_into(
        venv,
        tools_without_node(tmp_path),
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(tmp_path / "wheels"),
        str(source),
    )
    assert result.returncode != 0
    assert "building the front end needs Node.js and npm" in result.stdout + result.stderr
    assert not list((tmp_path / "wheels").glob("*.whl")) if (tmp_path / "wheels").exists() else True


def test_a_clone_without_node_uses_a_fresh_bundle_and_refuses_a_stale_one(tmp_path):
    hook = _load("hitl_hatch_build", REPO / "hatch_build.py")
    static = tmp_path / "static"
    sources = tmp_path / "js"
    (sources / "lib").mkdir(parents=True)
    (sources / "tests").mkdir()
    static.mkdir()
    (sources / "lib" / "queue.js").write_text("// source")
    old = time.time() - 100
    os.utime(sources / "lib" / "queue.js", (old, old))
    assert hook.missing_files(static) == list(hook.STATIC_FILES)
    for name in hook.STATIC_FILES:
        (static / name).write_text("built")
    assert hook.missing_files(static) == []
    assert hook.stale_against(static, sources) == []
    (sources / "tests" / "new.test.js").write_text("// tests are not bundled")
    assert hook.stale_against(static, sources) == []
    os.utime(sources / "lib" / "queue.js", (time.time() + 100, time.time() + 100))
    assert hook.stale_against(static, sources) == [os.path.join("lib", "queue.js")]
