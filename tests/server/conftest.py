"""Fixtures of the server tests (defined in :mod:`srvlive`).

``db_url`` (and ``live``, ``guarded`` built on it) runs every test on SQLite,
and on PostgreSQL when ``WFC_TEST_POSTGRES_URL`` names a database (otherwise
that half is skipped with the reason). Without the ``server`` extra
(``pip install 'wfc[server]'``: Starlette and uvicorn) and httpx (the
``test`` extra) these tests are not collected.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "runtime"))

if all(importlib.util.find_spec(name) is not None for name in ("starlette", "uvicorn", "httpx")):
    from srvlive import broken_task, db_url, guarded, live  # noqa: F401  (fixtures)
else:
    collect_ignore_glob = ["test_*.py"]
