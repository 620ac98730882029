"""Fixtures of the server tests (helpers in :mod:`srvlive`).

``db_url`` (and ``live``, ``guarded`` built on it) runs every test on SQLite,
and on PostgreSQL when ``WFC_TEST_POSTGRES_URL`` names a database (otherwise
that half is skipped with the reason).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

from rtdb import SKIP_REASON, make_db, postgres_base_url
from srvlive import BROKEN, LiveServer, start_server, stop_server


@pytest.fixture(autouse=True)
def _broken_task() -> Iterator[None]:
    BROKEN["explode"] = True
    yield
    BROKEN["explode"] = True


@pytest.fixture(params=("sqlite", "postgres"))
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on each store."""
    if request.param == "postgres" and postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db(request.param, tmp_path)
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture
def live(db_url: str) -> Iterator[LiveServer]:
    """A server without tokens on a fresh database."""
    server = start_server(db_url)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def guarded(db_url: str) -> Iterator[LiveServer]:
    """A server with a token and a read-only token."""
    server = start_server(db_url, token="write-secret-1234", read_token="read-secret-5678")
    try:
        yield server
    finally:
        stop_server(server)
