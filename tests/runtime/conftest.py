"""Fixtures of the runtime tests: anyio on asyncio, a database per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Tests import the helper modules next to this file (rtspec, rtdrive); with
# --import-mode=importlib pytest does not put this folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wfc.db"


@pytest.fixture
def db_url(db_path: Path) -> str:
    return f"sqlite:///{db_path}"
