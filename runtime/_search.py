"""Searchable variables: what a commit writes to ``run_search``, and how a
``where`` on them (``wfc runs list --where order-id=o-1``) is read.

A variable declared ``.searchable()`` is indexed by its value: one row per
run and variable, written by the same commit as the run's state (see
:mod:`._run_rows`), so a search never sees a value the run no longer has.

The stored value is typed text, so that runs of workflows that declare the
same name with different types never match each other by accident:

- ``str``: ``s=`` and the string; ``int``: ``i=42``; ``bool``: ``b=true``;
  ``float``: ``f=`` and its JSON (``f=42.5``, ``f=42.0``); ``json``: ``j=``
  and its canonical JSON (keys sorted, no spaces).
- A text longer than :data:`MAX_TEXT` bytes is stored as ``s#`` (the type
  letter) and its SHA-256, and a search for it hashes the same way: still
  an exact match, without putting kilobytes in an index.
- ``null`` (no value) is not stored: such a run is not found by the variable.

Masked variables are never indexed: the compiler's validation refuses a
variable that is declared both masked and searchable, and a searchable
variable that receives a masked value (so the run masks it too) is left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from wfc.runtime.errors import UsageError
from wfc.specs import WorkflowSpec
from wfc.specs.workflow import VarType

#: Longest text stored as it is (bytes of UTF-8); a longer one is hashed.
MAX_TEXT: Final = 256
_LETTERS: Final[dict[str, str]] = {"str": "s", "int": "i", "float": "f", "bool": "b", "json": "j"}
_CANONICAL: Final = msgspec.json.Encoder(order="sorted")

Searchable = tuple[tuple[str, VarType], ...]
"""The indexed variables of a spec: ``(name, type)``, by name."""


def searchable_variables(spec: WorkflowSpec, masked: Iterable[str]) -> Searchable:
    """The workflow variables of ``spec`` to index: declared searchable and
    not masked (declared, or holding a masked value)."""
    hidden = frozenset(masked)
    return tuple(
        sorted((name, var.type) for name, var in spec.variables.items() if var.searchable and name not in hidden)
    )


def index_value(type_: VarType, value: Any) -> str:
    """The stored text of a value of a variable of type ``type_``."""
    letter = _LETTERS[type_]
    text: str
    if type_ == "str":
        text = str(value)
    elif type_ == "bool":
        text = "true" if value else "false"
    elif type_ == "int":
        text = str(int(value))
    elif type_ == "float":
        text = _CANONICAL.encode(float(value)).decode()
    else:
        text = _CANONICAL.encode(value).decode()
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_TEXT or not _storable(text):
        return f"{letter}#{hashlib.sha256(raw).hexdigest()}"
    return f"{letter}={text}"


def _storable(text: str) -> bool:
    """Whether both databases store ``text`` as it is: PostgreSQL's text
    refuses NUL and lone surrogates (a start with such a searchable value
    failed to commit there, and a search for one failed as a bug). Such a
    text is indexed by its digest, as a long one is: stored and asked for
    alike, so it is found the same on both."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def search_values(variables: Mapping[str, Any], searchable: Searchable) -> dict[str, str | None]:
    """The index rows of a run's workflow variables: stored text by name,
    ``None`` for a variable without a value (its row goes)."""
    return {
        name: None if variables.get(name) is None else index_value(type_, variables[name])
        for name, type_ in searchable
    }


def changed_values(
    before: Mapping[str, Any], after: Mapping[str, Any], searchable: Searchable
) -> dict[str, str | None]:
    """The index rows a transition from ``before`` to ``after`` (workflow
    variables) changes; the unchanged ones are not written again."""
    changed: dict[str, str | None] = {}
    for name, type_ in searchable:
        value = after.get(name)
        if value is before.get(name) or value == before.get(name):
            continue
        changed[name] = None if value is None else index_value(type_, value)
    return changed


def parse_query_value(name: str, type_: VarType, text: str) -> str | None:
    """The stored text a ``where`` value means for a variable of type
    ``type_``, or ``None`` when ``text`` is not a value of that type."""
    if type_ == "str":
        return index_value(type_, text)
    if type_ == "bool":
        lowered = text.strip().lower()
        return index_value(type_, lowered == "true") if lowered in ("true", "false") else None
    if type_ == "int":
        try:
            return index_value(type_, int(text.strip()))
        except ValueError:
            return None
    if type_ == "float":
        try:
            return index_value(type_, float(text.strip()))
        except ValueError:
            return None
    try:
        return index_value(type_, msgspec.json.decode(text))
    except msgspec.DecodeError:
        return None


def search_terms(
    where: Mapping[str, Any], declared: Mapping[str, set[VarType]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The index terms of a ``where``: for each variable, the stored texts
    its value may be (one per type the deployed workflows declare it with).

    Args:
        where: Variable name to the value asked for (text from a command
            line or URL, or a Python value of the variable's type).
        declared: Searchable variable names of the workflows searched, with
            the types they are declared with.

    Raises:
        UsageError: a name that is not a searchable variable (the message
            lists those that are), or a value that fits none of its types.
    """
    terms: list[tuple[str, tuple[str, ...]]] = []
    for name, value in where.items():
        types = declared.get(name)
        if not types:
            known = ", ".join(sorted(declared)) or "none (declare one with .searchable())"
            raise UsageError(f"cannot search by {name!r}: it is not a searchable variable; searchable: {known}")
        texts = sorted({t for type_ in types if (t := _query_text(name, type_, value)) is not None})
        if not texts:
            kinds = " or ".join(sorted(types))
            raise UsageError(f"cannot search by {name}={value!r}: {name!r} is declared {kinds}, and this is not one")
        terms.append((name, tuple(texts)))
    return tuple(terms)


def _query_text(name: str, type_: VarType, value: Any) -> str | None:
    if isinstance(value, str):
        return parse_query_value(name, type_, value)
    fits = {
        "str": False,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "json": True,
    }[type_]
    return index_value(type_, value) if fits else None


def parse_where(items: Iterable[str], separator: str, known: Iterable[str] = ()) -> dict[str, str]:
    """``NAME=VALUE`` items (``--where``), or ``NAME:VALUE`` (``?where=``
    in a URL) as a mapping. A variable name may contain ``:`` itself, so the
    split is at the first separator that ends a ``known`` name, else at the
    first one.

    Raises:
        UsageError: an item without a separator or name, or a name given twice.
    """
    names = frozenset(known)
    found: dict[str, str] = {}
    for item in items:
        cuts = [i for i, char in enumerate(item) if char == separator and i > 0]
        cut = next((i for i in cuts if item[:i] in names), cuts[0] if cuts else -1)
        if cut <= 0:
            raise UsageError(
                f"where {item!r} must be NAME{separator}VALUE (a searchable variable and its value), "
                f"e.g. order-id{separator}o-1"
            )
        name, value = item[:cut], item[cut + 1 :]
        if name in found:
            raise UsageError(f"where names {name!r} twice; a run has one value of it")
        found[name] = value
    return found
