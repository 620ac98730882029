"""The inputs of ``wfc run``: ``--input name=value`` parsed by the variable's
declared type, over the JSON object of ``--input-json``.

Missing required inputs are left to the engine, which checks every input
against the spec when the run starts; this module only turns the text of the
command line into typed values, with messages that name the variable, its
type and the bad value.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from wfc.cli.errors import CliError
from wfc.cli.files import display, read_bytes
from wfc.specs import MAX_JSON_DEPTH, VariableDef, VarType, json_problems
from wfc.specs.limits import json_kind, unique_keys

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def parse_inputs(
    workflow: str,
    variables: Mapping[str, VariableDef],
    pairs: Sequence[str],
    json_source: str | None = None,
) -> dict[str, Any]:
    """The run's inputs: the ``--input-json`` object (a file, or ``-`` for
    stdin), then each ``NAME=VALUE`` pair on top of it.

    Raises:
        CliError: listing every malformed pair, unknown name and bad value.
    """
    values = read_json_inputs(json_source) if json_source is not None else {}
    given, problems = named_values(pairs, "--input", "payment-id=p-1001")
    for name, texts in given.items():
        definition = variables.get(name)
        if definition is None:
            problems.append(
                f"--input {name}: workflow {workflow!r} has no variable {name!r}; "
                f"its variables are {describe_variables(variables)}"
            )
            continue
        if len(texts) > 1:
            problems.append(repeated("--input", name, texts, masked=definition.masked))
            continue
        text = texts[0]
        try:
            values[name] = parse_value(text, definition.type)
        except ValueError as exc:
            if definition.masked:  # the reason quotes the value: a secret
                problems.append(f"--input {name}=***: variable {name!r} is declared {definition.type} (and masked: "
                                f"the value is not shown), and the value given is not one")
            else:
                shown = quoted(text)
                problems.append(f"--input {name}={shown}: variable {name!r} is declared {definition.type}, {exc}")
    for name, value in values.items():
        masked = name in variables and variables[name].masked
        for problem in json_problems(value):  # the engine checks too; say it before opening the database
            problems.append(f"input {name!r}: {problem.reason if masked else problem}")
    if problems:
        # Every problem at once: the required inputs missing too, which the
        # engine would only report once these are fixed.
        problems += [
            f"--input {name}: required {definition.type} input is missing"
            for name, definition in sorted(variables.items())
            if definition.required and definition.default is None and name not in values and _unnamed(name, pairs)
        ]
        raise CliError("; ".join(problems) if len(problems) == 1 else "invalid inputs:\n  " + "\n  ".join(problems))
    return values


def named_values(pairs: Sequence[str], option: str, example: str) -> tuple[dict[str, list[str]], list[str]]:
    """The ``NAME=VALUE`` pairs of a repeated option (``--input``,
    ``--field``): every text given for each name, in the order given, and a
    problem for each pair that is not ``NAME=VALUE``. Each name must then be
    given once (:func:`repeated`)."""
    given: dict[str, list[str]] = {}
    problems: list[str] = []
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals or not name:
            problems.append(f"{option} {quoted(pair)} is not NAME=VALUE (e.g. {option} {example})")
        else:
            given.setdefault(name, []).append(text)
    return given, problems


def repeated(option: str, name: str, texts: Sequence[str], *, masked: bool = False) -> str:
    """The problem of ``name`` given more than once: refused, since taking
    the last would drop a value typed on the command line without a word."""
    times = "twice" if len(texts) == 2 else f"{len(texts)} times"
    shown = "the values are masked" if masked else _listed([quoted(text) for text in texts])
    return f"{option} {name} is given {times} ({shown}); give each {option.lstrip('-')} once"


def _listed(items: Sequence[str]) -> str:
    """``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _unnamed(name: str, pairs: Sequence[str]) -> bool:
    """Whether no ``--input`` pair names ``name`` (a bad value is not missing)."""
    return all(pair.partition("=")[0].strip() != name for pair in pairs)


def parse_value(text: str, type_: VarType) -> Any:
    """``text`` as a value of the variable type ``type_``.

    Raises:
        ValueError: saying why ``text`` is not such a value.
    """
    match type_:
        case "str":
            return text
        case "int":
            try:
                return int(text.strip())
            except ValueError:
                raise ValueError(f"and {quoted(text)} is not an integer (e.g. 42)") from None
        case "float":
            try:
                number = float(text.strip())
            except ValueError:
                raise ValueError(f"and {quoted(text)} is not a number (e.g. 12.5)") from None
            if not math.isfinite(number):
                raise ValueError("and NaN and infinities cannot be stored; give a finite number (e.g. 12.5)")
            return number
        case "bool":
            word = text.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise ValueError(f"and {quoted(text)} is not a boolean; use true/false, yes/no or 1/0")
        case "json":
            try:
                return load_json(text)
            except ValueError as exc:
                raise ValueError(f"and {quoted(text)} is not JSON ({exc}); quote strings, e.g. '\"text\"'") from None
    raise ValueError(f"an unknown variable type {type_!r}")


def read_json_inputs(source: str) -> dict[str, Any]:
    """The JSON object in the file ``source`` (``-``: standard input)."""
    if source == "-":
        label, data = "standard input", sys.stdin.read()
    else:
        path = Path(source)
        label = display(path)
        data = read_bytes(path, "--input-json file").decode("utf-8", errors="replace")
    try:
        loaded = load_json(data)
    except ValueError as exc:
        raise CliError(f"--input-json {label}: not JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise CliError(
            f"--input-json {label}: expected a JSON object of input name to value, "
            f'e.g. {{"payment-id": "p-1001"}}, not {json_kind(loaded)}'
        )
    return loaded


def load_json(text: str | bytes) -> Any:
    """Parse JSON text as wfc stores it: ``NaN`` and ``Infinity`` (which
    Python's parser accepts) are refused, and so are an object naming a key
    twice (which of the two was meant?) and nesting too deep to parse.

    Raises:
        ValueError: saying what is wrong and where, never quoting the text.
    """
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON; give a finite number or null")

    try:
        return json.loads(text, parse_constant=refuse, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise ValueError(f"nested too deeply (wfc takes at most {MAX_JSON_DEPTH} levels)") from None


def describe_variables(variables: Mapping[str, VariableDef]) -> str:
    """The declared variables for a message: ``amount (float, required),
    currency (str, default 'EUR')``."""
    if not variables:
        return "none"
    parts = []
    for name in sorted(variables):
        definition = variables[name]
        extra = "required" if definition.required else ""
        if definition.default is not None:
            extra = "default ***" if definition.masked else f"default {json.dumps(definition.default)}"
        parts.append(f"{name} ({definition.type}{', ' + extra if extra else ''})")
    return ", ".join(parts)


def quoted(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters: an error
    about a 20 KB value need not print it twice."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"
