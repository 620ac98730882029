"""Fixtures of the dashboard tests (defined in :mod:`dashlive`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dashlive import browser, checkout_server, page  # noqa: F401  (fixtures)
