"""A package's public names imported on first use (:pep:`562`).

``wfc.specs``, ``wfc.runtime`` and ``wfc.runtime.interpreter`` re-export
names from their modules. Imported eagerly, reaching one name loads every
module of the package: ``wfc runs list`` would load the whole engine (the
commit loop, task attempts, the interpreter) to read a page of runs. Each
package maps its names to their modules instead, and a name's module is
imported when the name is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any


def export(package: str, homes: Mapping[str, str], namespace: MutableMapping[str, Any], name: str) -> Any:
    """The value of ``package.name``, imported from its module in ``homes``
    and kept in the package's ``namespace`` (later lookups skip the
    package's ``__getattr__``).

    Raises:
        AttributeError: ``name`` is not one of the package's names.
    """
    home = homes.get(name)
    if home is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    namespace[name] = value
    return value


def listing(namespace: Mapping[str, Any]) -> list[str]:
    """What ``dir(package)`` shows: what it holds now and every public name."""
    return sorted({*namespace, *namespace["__all__"]})
