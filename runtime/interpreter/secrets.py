"""Keeping the values of masked variables out of everything people read.

Two rules, one place each:

* **Which variables are secret** (:func:`masked_names`): those declared
  ``.masked()``, and, taint, every variable that an edge mutation or a thread
  input may set from an expression reading a secret variable or a secret node
  output. The rule is static, on the spec: such a variable is masked for the
  whole run, whatever value it holds, so a copy of a secret never shows.
* **Which texts are secret** (:class:`Redactor`): the current values of the
  secret variables (and of node outputs that flow into them). Every string in
  what the interpreter records for people (journal details, failure messages
  and contents) has each of those texts replaced by ``"***"``: an error
  message that quotes a value (``int() cannot parse 'tok_4242'``) or a task
  exception that names its argument cannot leak it. Texts shorter than
  :data:`MIN_SECRET_LENGTH` are not searched for (replacing ``"1"`` everywhere
  would destroy every message); their variables are still masked by name.
  Numbers are searched for inside strings only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from wfc.specs import (
    Expr,
    OutputRef,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    VarRef,
    WorkflowSpec,
    walk_expr,
)

MASK: Final = "***"
"""What a secret value is shown as."""

MIN_SECRET_LENGTH: Final = 4
"""Shortest secret text searched for inside other strings; shorter ones are
replaced only where they stand as words of their own."""


def _reads(expr: Expr | None, names: set[str], outputs: set[str]) -> bool:
    if expr is None:
        return False
    for sub in walk_expr(expr):
        if isinstance(sub, VarRef) and sub.name in names:
            return True
        if isinstance(sub, OutputRef) and sub.node in outputs:
            return True
    return False


def masked_names(spec: WorkflowSpec) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """The secret variable names of ``spec`` and, per thread, the nodes whose
    output flows into a secret variable.

    Declared masked variables are secret; so is every variable an edge
    mutation or a spawned thread's input may set from an expression that
    reads a secret variable or output (repeated until nothing changes, so a
    copy of a copy is secret too).
    """
    names = {name for name, d in spec.variables.items() if d.masked}
    for thread in spec.threads.values():
        names.update(name for name, d in thread.variables.items() if d.masked)
    outputs: dict[str, set[str]] = {name: set() for name in spec.threads}
    changed = True
    while changed:
        before = (len(names), sum(map(len, outputs.values())))
        for thread_name, thread in spec.threads.items():
            hidden = outputs[thread_name]
            for node in thread.nodes.values():
                for edge in node.edges:
                    for mutation in edge.mutations:
                        if mutation.var in names:
                            hidden.update(s.node for s in walk_expr(mutation.value) if isinstance(s, OutputRef))
                        elif _reads(mutation.value, names, hidden):
                            names.add(mutation.var)
                if isinstance(node, SpawnThreadNode | SpawnThreadForEachNode):
                    names.update(var for var, expr in node.inputs.items() if _reads(expr, names, hidden))
                if isinstance(node, SpawnThreadForEachNode) and _reads(node.items, names, hidden):
                    names.add(node.item_var)
        changed = (len(names), sum(map(len, outputs.values()))) != before
    return frozenset(names), {name: frozenset(nodes) for name, nodes in outputs.items()}


def secret_texts(value: Any) -> Iterator[str]:
    """The texts of ``value`` worth searching for: strings and numbers, down
    through lists and objects."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, list):
        for item in value:
            yield from secret_texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_texts(item)


class Redactor:
    """Replaces known secret texts by ``"***"`` in strings and JSON values."""

    def __init__(self, values: Iterable[Any] = ()) -> None:
        texts = {text for value in values for text in secret_texts(value) if text}
        # Longest first, so a secret containing another is replaced whole.
        self._texts = sorted((t for t in texts if len(t) >= MIN_SECRET_LENGTH), key=lambda t: (-len(t), t))
        # A short secret (a CVV, a PIN) is replaced only where it stands as a
        # word of its own: searched for inside words it would mangle every
        # message, and missed it would be printed in clear.
        short = sorted((t for t in texts if len(t) < MIN_SECRET_LENGTH), key=lambda t: (-len(t), t))
        self._short = (
            re.compile("|".join(rf"(?<![\w]){re.escape(t)}(?![\w])" for t in short)) if short else None
        )

    def __bool__(self) -> bool:
        return bool(self._texts) or self._short is not None

    def text(self, text: str) -> str:
        """``text`` with every secret in it replaced by ``"***"``."""
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, MASK)
        if self._short is not None:
            text = self._short.sub(MASK, text)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with the secrets in its strings replaced, down through
        lists and objects. Numbers are left alone: a timeout or a count that
        happens to equal a secret number is not one (a masked variable is
        masked by name, and number secrets are still found inside strings)."""
        if not self:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.value(item) for item in value)
        if isinstance(value, dict):
            return {self.value(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        return value


def mask_variables(values: Mapping[str, Any], masked: Iterable[str]) -> dict[str, Any]:
    """``values`` with the masked ones (when set) as ``"***"``."""
    hidden = frozenset(masked)
    return {k: (MASK if k in hidden and v is not None else v) for k, v in values.items()}
