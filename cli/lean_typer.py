"""Start-up costs that typer would pay for nothing, avoided without changing
what it prints or accepts.

Two costs, each measured with ``python -X importtime``:

* Typer (0.2x) checks every parameter value with a pydantic ``TypeAdapter``,
  even an option left unset: the first value imports pydantic and builds an
  adapter per parameter, about 100 ms before a command starts.
  :func:`check_values_lightly` gives each parameter a checker that takes the
  values whose result is certain (an unset option, a string for a ``str``,
  plain digits within the bounds for an ``int``) and hands every other value
  to typer's own pydantic checker, built on first need. So a value typer
  would refuse is still refused by typer, with typer's message; a test
  compares the two checkers value by value.
* ``typer.rich_utils``, which formats help and usage errors, imports
  ``rich.markdown`` (markdown-it) and ``rich.traceback`` (pygments) at module
  level, about 50 ms, for a markup mode and a traceback format wfc never
  uses. :func:`defer_unused_rich` lets it import stand-ins of the two classes
  it takes from them; a stand-in imports the real module when it is used.

Both are no-ops with a typer that does not work this way.

Building and parsing the command line makes many objects and no garbage, so
:func:`wfc.cli.main` runs it with the cyclic collector off (14 % of ``wfc
--help``); :func:`collect_in_commands` turns it back on as a command starts.

A third cost is avoided by the command modules themselves: they do not use
``from __future__ import annotations``, because typer reads each command's
annotations when it builds the command line, and a string annotation is
compiled again there (about 40 of the 50 ms it took; a test pins it).
"""

from __future__ import annotations

import gc
import importlib
import importlib.machinery
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, Final

#: The modules ``typer.rich_utils`` imports only for what wfc never uses,
#: and the one name it takes from each.
DEFERRED: Final = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}

_DIGITS = re.compile(r"(?:0|[1-9][0-9]{0,17})")
_UNDECIDED: Final = object()


# ---------------------------------------------------------------- values without pydantic


def check_values_lightly(command: Any) -> None:
    """Give every parameter of ``command`` and of its subcommands, the help
    option included, a :class:`LightChecker` (typer's parameters only: others
    are left alone) as the command hands them to its parser."""
    if "get_params" not in vars(command) and callable(getattr(command, "get_params", None)):
        params_of = command.get_params

        def get_params(ctx: Any) -> list[Any]:
            params = params_of(ctx)
            for param in params:
                if _typer_checks(param) and param._runtime_param is None:
                    param._runtime_param = LightChecker()
            return list(params)

        command.get_params = get_params
    for sub in getattr(command, "commands", {}).values():
        check_values_lightly(sub)


def collect_in_commands(command: Any) -> None:
    """Make each command that runs (not a group) turn the cyclic collector
    back on, over what exists then frozen, if :func:`wfc.cli.main` turned
    it off to build and parse the command line."""
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for sub in subcommands.values():
            collect_in_commands(sub)
    elif "invoke" not in vars(command) and callable(getattr(command, "invoke", None)):
        run = command.invoke

        def invoke(ctx: Any) -> Any:
            collect_again()
            return run(ctx)

        command.invoke = invoke


def collect_again() -> None:
    """Turn the cyclic collector back on if it is off, first freezing what
    exists (modules, the command line) so that it is never walked."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _typer_checks(param: Any) -> bool:
    """True for a typer parameter that builds its checker on first use."""
    return (
        hasattr(param, "type_descriptor") and hasattr(param, "_runtime_param") and hasattr(param, "get_runtime_param")
    )


class LightChecker:
    """Typer's value check of one parameter (its ``RuntimeParam``), answered
    here for the values whose result is certain and by typer's own checker
    for all the others."""

    def __init__(self) -> None:
        self._typer: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        """What typer's ``RuntimeParam.coerce`` returns for ``value``."""
        found = light_value(value, param)
        if found is not _UNDECIDED:
            return found
        return self.typer_checker(param).coerce(value, param=param, ctx=ctx)

    def typer_checker(self, param: Any) -> Any:
        """Typer's own checker of ``param`` (pydantic), built once."""
        if self._typer is None:
            from typer._coercion import build_runtime_param

            self._typer = build_runtime_param(param.type_descriptor)
        return self._typer


def light_value(value: Any, param: Any) -> Any:
    """The checked value when it is certain without pydantic, else
    ``_UNDECIDED``."""
    multiple = bool(param.multiple) or param.nargs == -1
    if value is None:  # unset: typer answers before it checks anything
        return () if multiple else None
    if multiple or param.nargs != 1:
        return _UNDECIDED
    annotation = param.type_descriptor.annotation
    info = param.type_descriptor.parameter_info
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return _UNDECIDED
    if annotation is str and type(value) is str and _plain(value):
        return value
    if annotation is int:
        number = _whole(value)
        if number is not None and _within(number, info):
            return number
    return _UNDECIDED


def _plain(text: str) -> bool:
    """A string pydantic takes as it is (no lone surrogates from undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _whole(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and _DIGITS.fullmatch(value):
        return int(value)
    return None


def _within(number: int, info: Any) -> bool:
    low, high = getattr(info, "min", None), getattr(info, "max", None)
    return (low is None or number >= low) and (high is None or number <= high)


# ---------------------------------------------------------------- rich modules typer never uses here


def defer_unused_rich() -> None:
    """Make the coming import of ``typer.rich_utils`` take stand-ins for
    :data:`DEFERRED` (nothing if it was imported already)."""
    if "typer.rich_utils" in sys.modules or any(isinstance(f, _RichUtilsFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _RichUtilsFinder())


class _RichUtilsFinder:
    """Finds ``typer.rich_utils`` as the import system would, and loads it
    with :data:`DEFERRED` stood in for; then leaves ``sys.meta_path``.
    (Not an ``importlib.abc`` subclass: importing that module costs more
    than this saves.)"""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "typer.rich_utils":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _StandingIn(spec.loader)  # type: ignore[assignment]
        return spec


class _StandingIn:
    """Runs the real loader with stand-ins in ``sys.modules`` for the
    modules of :data:`DEFERRED` not imported yet, and removes them after."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        made: ModuleType | None = self._loader.create_module(spec)
        return made

    def exec_module(self, module: ModuleType) -> None:
        placed = {name: stand_in_module(name, attr) for name, attr in DEFERRED.items() if name not in sys.modules}
        sys.modules.update(placed)
        try:
            self._loader.exec_module(module)
        finally:
            for name, stand_in in placed.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]


def stand_in_module(module: str, name: str) -> ModuleType:
    """A module holding only ``name``: a class that imports the real
    ``module`` when it is called, asked for an attribute or checked against."""
    holder = ModuleType(module)
    setattr(holder, name, stand_in_class(module, name))
    return holder


class _Deferred(type):
    """The metaclass of a stand-in: everything goes to the real class."""

    _module: str

    def real(cls) -> Any:
        return getattr(importlib.import_module(cls._module), cls.__name__)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(cls.real(), attr)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.real())


def stand_in_class(module: str, name: str) -> type:
    """The stand-in of ``module.name`` (see :func:`stand_in_module`)."""
    return _Deferred(name, (), {"_module": module, "__module__": module})
