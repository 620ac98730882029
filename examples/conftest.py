"""pytest setup for the examples: make the modules in this folder importable
by name (``from checkout import checkout_wf``), as the modules of your own
package would be. Needed because the project runs pytest with
``--import-mode=importlib``, which does not put test folders on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
