"""Shared fixtures: a real PostgreSQL server for the store tests (started once per run)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_server import fresh_database, postgres_bin, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a running PostgreSQL server; CI installs it, so CI never skips."""
    if postgres_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries are missing in CI (apt-get install postgresql)")
        pytest.skip("PostgreSQL server binaries not installed (make test installs them)")
    url, stop = start_postgres()
    try:
        yield url
    finally:
        stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """An empty database of its own for one test."""
    return fresh_database(postgres_server, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_spec(request, tmp_path) -> str:
    """The same test against both stores."""
    if request.param == "sqlite":
        return str(tmp_path / "labels.sqlite")
    return request.getfixturevalue("postgres_url")
