"""A throw-away PostgreSQL server for the store tests and benchmarks.

Debian's server binaries (the `postgresql` package, installed by `make test`) run in a
temporary directory on a free loopback port. As root, the server runs as the
`postgres` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> tuple[str, Callable[[], None]]:
    """Start a server; returns (SQLAlchemy URL of an empty database, stop function)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="hitl-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True)  # noqa: E731
    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "hitl",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-instructions",
    )
    run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=on",
        "start",
    )
    url = f"postgresql+psycopg://hitl@127.0.0.1:{port}/postgres"

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    return url, stop


def fresh_database(url: str, name: str) -> str:
    """Create an empty database `name` on the server and return its URL."""
    import psycopg

    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    server_url, stop_server = start_postgres()
    print(server_url)
    time.sleep(1)
    stop_server()
