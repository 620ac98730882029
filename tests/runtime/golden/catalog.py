"""Every golden scenario, by case name (the name of its file).

A scenario is a function returning a finished :class:`~golden.recorder.Recorder`;
its docstring says what the case pins. Modules ``scenarios_*`` register them
with :func:`scenario`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path

from golden.canon import Json
from golden.recorder import Recorder

#: Folder of the golden files (next to this module).
FOLDER = Path(__file__).resolve().parent

_MODULES = (
    "scenarios_tasks",
    "scenarios_flow",
    "scenarios_threads",
    "scenarios_sagas",
    "scenarios_control",
    "scenarios_dsl",
    "scenarios_usertasks",
)

SCENARIOS: dict[str, Callable[[], Recorder]] = {}


def scenario(fn: Callable[[], Recorder]) -> Callable[[], Recorder]:
    """Register a scenario under its function name, dashed."""
    name = fn.__name__.replace("_", "-")
    if name in SCENARIOS:
        raise ValueError(f"two golden scenarios are named {name!r}")
    SCENARIOS[name] = fn
    return fn


def scenarios() -> dict[str, Callable[[], Recorder]]:
    """Every registered scenario, by name, sorted."""
    for module in _MODULES:
        importlib.import_module(f"golden.{module}")
    return dict(sorted(SCENARIOS.items()))


def record(name: str) -> Json:
    """Run scenario ``name`` and return the document of its golden file."""
    fn = scenarios()[name]
    doc: Json = {"case": name, "about": inspect.cleandoc(fn.__doc__ or "")}
    doc.update(fn().doc)
    return doc


def path_of(name: str) -> Path:
    """The golden file of case ``name``."""
    return FOLDER / f"{name}.json"


def files() -> list[Path]:
    """Every golden file checked in, sorted."""
    return sorted(FOLDER.glob("*.json"))
