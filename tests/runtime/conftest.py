"""Fixtures of the runtime tests: anyio on asyncio, a database per test.

``db`` (and ``db_url``, built on it) is parametrized over both stores: every
test that takes it runs on SQLite, and on PostgreSQL when
``WFC_TEST_POSTGRES_URL`` names a database (otherwise that half is skipped
with the reason). ``sqlite_path``/``sqlite_url`` are for the tests of what
only SQLite has (files, ``:memory:``), ``pg`` for what only PostgreSQL has.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests import the helper modules next to this file (rtspec, rtdrive, rtdb);
# with --import-mode=importlib pytest does not put this folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parent))

from rtdb import SKIP_REASON, Db, make_db, postgres_base_url

STORES = ("sqlite", "postgres")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh database: a SQLite file, or a schema of its own on PostgreSQL."""
    if request.param == "postgres" and postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db(request.param, tmp_path)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def pg() -> Iterator[Db]:
    """A schema of its own on PostgreSQL (skipped without one)."""
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db("postgres", Path("."))
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def db_url(db: Db) -> str:
    return db.url


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "wfc.db"


@pytest.fixture
def sqlite_url(sqlite_path: Path) -> str:
    return f"sqlite:///{sqlite_path}"
