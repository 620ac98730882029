"""Importing the user's workflow modules and finding the workflows in them.

A target is a path to a ``.py`` file or a dotted module name. A file is
imported under a unique module name with its folder first on ``sys.path``, so
that ``from checkout_tasks import ...`` next to it works; a module name is
imported with the working directory on ``sys.path``, as ``python -m`` does.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from wfc.cli.errors import CliError, gone_directory_message, relative_to_gone_directory
from wfc.cli.files import display
from wfc.cli.locate import user_frame, where
from wfc.dsl import Workflow
from wfc.specs import WfcError

_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_HOW_TO_DEFINE = (
    'define one at module level, e.g. `checkout_wf = Workflow("checkout", checkout)` '
    "with `from wfc.dsl import Workflow`"
)


@dataclass(frozen=True)
class FoundWorkflow:
    """A workflow found in a user's module."""

    workflow: Workflow
    origin: str
    """Where it was found, ``file-or-module:variable``, for messages."""


def load_workflows(targets: Sequence[str]) -> list[FoundWorkflow]:
    """Import every target and return the workflows defined in them, in the
    order found. A module may import a workflow from another target: each
    workflow is returned once, whether it is the same object or the same
    definition imported twice (same name, same source line).

    Raises:
        CliError: a target does not import, no target defines a workflow, or
            two different workflows share a name.
    """
    found: list[FoundWorkflow] = []
    seen: set[object] = set()
    for target in targets:
        module, label = import_target(target)
        for name, value in vars(module).items():
            if isinstance(value, Workflow) and not seen & _identities(value):
                seen |= _identities(value)
                found.append(FoundWorkflow(value, f"{label}:{name}"))
    if not found:
        given = ", ".join(targets)
        raise CliError(f"no workflow found in {given}: no module-level Workflow object; {_HOW_TO_DEFINE}")
    _check_unique_names(found)
    return found


def _identities(workflow: Workflow) -> set[object]:
    return {id(workflow), (workflow.name, str(workflow.source))}


def _check_unique_names(found: list[FoundWorkflow]) -> None:
    by_name: dict[str, list[str]] = {}
    for item in found:
        by_name.setdefault(item.workflow.name, []).append(item.origin)
    for name, origins in by_name.items():
        if len(origins) > 1:
            raise CliError(
                f"{len(origins)} workflows are named {name!r} ({', '.join(origins)}); each workflow "
                f"is written to <DIR>/<name>.json, so names must be unique; rename all but one"
            )


def import_target(target: str) -> tuple[ModuleType, str]:
    """Import a ``.py`` path or a dotted module name; return the module and
    how to name it in messages."""
    if _looks_like_path(target):
        path = Path(target)
        return import_file(path), display(path)
    return import_module(target), target


def _looks_like_path(target: str) -> bool:
    return (
        target.endswith(".py")
        or "/" in target
        or os.sep in target
        or not _MODULE_NAME.match(target)
        or Path(target).exists()
    )


def import_file(path: Path) -> ModuleType:
    """Import the Python file at ``path`` under a unique module name."""
    label = display(path)
    if not path.exists():
        if relative_to_gone_directory(path):
            raise CliError(gone_directory_message(label))
        raise CliError(f"{label}: no such file; give the path of a .py file or a dotted module name")
    if path.is_dir():
        raise CliError(f"{label} is a directory; give the path of a .py file or a dotted module name")
    if path.suffix != ".py":
        raise CliError(f"{label} is not a Python file; `wfc compile` reads .py files or dotted module names")
    resolved = path.resolve()
    _put_first_on_path(str(resolved.parent))
    name = _unique_module_name(resolved)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise CliError(f"{label}: Python cannot import this file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise _import_failure(label, exc) from exc
    return module


def import_module(name: str) -> ModuleType:
    """Import a module by dotted name, with the working directory on the path
    (if it still exists: an installed module is found all the same)."""
    gone = relative_to_gone_directory(None)
    if not gone:
        _put_first_on_path(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            if gone:
                raise CliError(gone_directory_message(f"no module named {name!r}")) from None
            raise CliError(
                f"no module named {name!r}, and no such file; give the path of a .py file, or a module "
                f"importable from {os.getcwd()}"
            ) from None
        raise _import_failure(name, exc) from exc
    except (Exception, SystemExit) as exc:
        raise _import_failure(name, exc) from exc


def _put_first_on_path(directory: str) -> None:
    if directory not in sys.path:
        sys.path.insert(0, directory)


def _unique_module_name(path: Path) -> str:
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:12]  # a path is bytes, not always UTF-8
    stem = re.sub(r"\W", "_", path.stem)
    return f"_wfc_user_{stem}_{digest}"


def _import_failure(label: str, exc: Exception | SystemExit) -> CliError:
    if isinstance(exc, SystemExit):
        # Not the command's own exit: a script part that runs on import.
        return CliError(
            f"importing {label} exited (sys.exit({exc.code!r})); a module given to wfc must not exit when "
            f'imported: put its script part under `if __name__ == "__main__":`'
        )
    if isinstance(exc, SyntaxError):
        return CliError(_syntax_message(label, exc))
    if isinstance(exc, WfcError):  # e.g. a misused DSL call; its message says where
        return CliError(f"importing {label} failed: {exc}")
    if isinstance(exc, FileNotFoundError) and relative_to_gone_directory(exc.filename):
        return CliError(gone_directory_message(f"importing {label} failed", absolute_helps=False))
    frame = user_frame(exc)
    at = f" at {where(frame)}" if frame is not None else ""
    return CliError(f"importing {label} failed{at}: {type(exc).__name__}: {exc}")


def _syntax_message(label: str, exc: SyntaxError) -> str:
    file = display(exc.filename) if exc.filename else label
    line = f":{exc.lineno}" if exc.lineno else ""
    message = f"cannot import {label}: syntax error at {file}{line}: {exc.msg}"
    if exc.text and exc.text.strip():
        message += f"\n    {exc.text.strip()}"
    return message
