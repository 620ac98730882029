"""Canonical JSON for specs: encode, decode with validation, hash, schema."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from wfc.specs.errors import SpecError
from wfc.specs.expressions import Expr
from wfc.specs.formats import read_format, schema_problem, written_form
from wfc.specs.forms import FormDef
from wfc.specs.nodes import Node
from wfc.specs.validation import validate
from wfc.specs.workflow import ThreadSpec, VariableDef, WorkflowSpec, first_version

__all__ = ["body_hash", "dumps", "from_builtins", "json_schema", "loads", "loads_deployed", "validate", "with_hash"]


def dumps(spec: WorkflowSpec) -> bytes:
    """Encode a spec as canonical JSON: sorted keys, two-space indent, a
    trailing newline. Equal specs give equal bytes, in the format the spec
    names (see :mod:`wfc.specs.formats`)."""
    compact = msgspec.json.encode(written_form(spec), order="sorted")
    return msgspec.json.format(compact, indent=2) + b"\n"


def body_hash(spec: WorkflowSpec) -> str:
    """Hash of everything in the spec except its version and hash."""
    body = msgspec.structs.replace(spec, version=first_version(), hash="")
    return "sha256:" + hashlib.sha256(dumps(body)).hexdigest()


def with_hash(spec: WorkflowSpec) -> WorkflowSpec:
    """Return ``spec`` with :attr:`WorkflowSpec.hash` filled in."""
    return msgspec.structs.replace(spec, hash=body_hash(spec))


def loads(data: bytes | str) -> WorkflowSpec:
    """Decode and validate a spec.

    Raises:
        SpecError: the document is not JSON, does not match the format, or is
            inconsistent (an edge to a missing node, an unknown thread, …). Its
            ``path`` names the offending field.
    """
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeError) as exc:
        raise SpecError(f"not valid JSON ({exc}); check the file is a spec written by `wfc compile`") from None
    except RecursionError:
        raise SpecError("JSON nested too deeply to be a workflow spec") from None
    spec = from_builtins(raw)
    validate(spec)
    return spec


def loads_deployed(data: bytes | str) -> WorkflowSpec:
    """Decode a spec read back from a database, without re-validating it.

    It was validated when it was deployed, perhaps by an older wfc whose
    rules were looser (a loop with no way out, a value past a limit added
    since). Its runs must go on all the same, so only its shape is checked
    here; :func:`loads` is for specs that are about to be deployed.

    A format newer than this wfc reads is refused rather than guessed at: a
    newer wfc deployed it, and its fields may mean what this one cannot do.

    Raises:
        SpecError: the document is not JSON, does not match the format, or is
            in a format this wfc does not read.
    """
    try:
        raw = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise SpecError(f"a deployed spec is not valid JSON ({exc}); the database was changed by hand") from None
    spec = from_builtins(raw)
    problem = schema_problem(spec.schema)
    if problem is not None:
        raise SpecError(problem, "$.schema")
    return spec


def from_builtins(raw: Any) -> WorkflowSpec:
    """Convert decoded JSON (dicts, lists, scalars) into a :class:`WorkflowSpec`,
    raising :class:`SpecError` with the exact path of the first bad field.
    A spec in an older format keeps its meaning (:func:`read_format`)."""
    try:
        return read_format(msgspec.convert(raw, WorkflowSpec))
    except msgspec.ValidationError as exc:
        reason, path = _split(exc)
    except RecursionError:
        raise SpecError("JSON nested too deeply to be a workflow spec") from None
    if "[...]" in path:
        # msgspec hides dict keys; find the exact thread, node or variable.
        _locate(raw)
    raise SpecError(reason, path)


def _split(exc: msgspec.ValidationError) -> tuple[str, str]:
    reason, _, path = str(exc).rpartition(" - at `")
    if not reason:
        return str(exc), "$"
    return reason, path.rstrip("`")


def _locate(raw: Any) -> None:
    def check(value: Any, kind: Any, path: str) -> None:
        try:
            msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            reason, sub = _split(exc)
            raise SpecError(reason, path + sub[1:]) from None

    def items(container: Any, key: str) -> list[tuple[str, Any]]:
        value = container.get(key) if isinstance(container, dict) else None
        return list(value.items()) if isinstance(value, dict) else []

    for name, var in items(raw, "variables"):
        check(var, VariableDef, f"$.variables.{name}")
    for name, form in items(raw, "forms"):
        check(form, FormDef, f"$.forms.{name}")
    for thread_name, thread in items(raw, "threads"):
        base = f"$.threads.{thread_name}"
        for node_id, node in items(thread, "nodes"):
            here = f"{base}.nodes.{node_id}"
            for input_name, value in items(node, "inputs"):
                check(value, Expr, f"{here}.inputs.{input_name}")
            check(node, Node, here)
        for name, var in items(thread, "variables"):
            check(var, VariableDef, f"{base}.variables.{name}")
        check(thread, ThreadSpec, base)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the spec format, for editors and other tools."""
    return msgspec.json.schema(WorkflowSpec)
