"""Settings of the DSL tests."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests import the helper module next to this file (sourcemarks); with
# --import-mode=importlib pytest does not put this folder on sys.path itself.
sys.path.insert(0, str(Path(__file__).parent))
