"""``loads`` rejects malformed and inconsistent specs with a SpecError whose
``path`` is the exact ``$.``-path of the offending field.

Tests marked ``xfail(strict=True)`` describe the behaviour the format
promises but the implementation does not give yet; see their reasons.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from wfc.specs import FUNCTIONS, SpecError, WfcError, loads

Doc = dict[str, Any]
Load = Callable[[Any], SpecError]

MAIN = "$.threads.main.nodes"
CHARGE = f"{MAIN}.charge-card"
THREADS = "['main', 'on-error', 'ship']"


def nodes(doc: Doc, thread: str = "main") -> dict[str, Any]:
    return doc["threads"][thread]["nodes"]


def charge(doc: Doc) -> dict[str, Any]:
    return nodes(doc)["charge-card"]


def assert_error(error: SpecError, path: str, reason: str) -> None:
    assert (error.path, error.reason) == (path, reason)
    assert str(error) == f"invalid workflow spec at {path}: {reason}"


# --- the error type -------------------------------------------------------------------------------


def test_spec_error_carries_path_and_reason() -> None:
    error = SpecError("bad", "$.x")
    assert (error.path, error.reason) == ("$.x", "bad")
    assert str(error) == "invalid workflow spec at $.x: bad"
    assert isinstance(error, WfcError)
    assert SpecError("bad").path == "$"


def test_valid_document_loads(doc: Doc) -> None:
    spec = loads(json.dumps(doc))
    assert spec.name == "checkout"


# --- not a spec at all ----------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"not json", b"{", b'{"a": 1,}', b"\xff\xfe", "{'a': 1}"])
def test_not_json(spec_error: Load, data: bytes | str) -> None:
    error = spec_error(data)
    assert error.path == "$"
    assert error.reason.startswith("not valid JSON (")
    assert error.reason.endswith("); check the file is a spec written by `wfc compile`")


@pytest.mark.parametrize(
    ("data", "got"),
    [(b"[]", "array"), (b"5", "int"), (b"1.5", "float"), (b"null", "null"), (b'"spec"', "str"), (b"true", "bool")],
)
def test_not_an_object(spec_error: Load, data: bytes, got: str) -> None:
    assert_error(spec_error(data), "$", f"Expected `object`, got `{got}`")


def test_empty_object(spec_error: Load) -> None:
    assert_error(spec_error(b"{}"), "$", "Object missing required field `name`")


@pytest.mark.parametrize("field", ["name", "entrypoint", "threads", "schema", "version"])
def test_missing_top_level_field(spec_error: Load, doc: Doc, field: str) -> None:
    del doc[field]
    assert_error(spec_error(doc), "$", f"Object missing required field `{field}`")


# --- unknown fields, at every depth ---------------------------------------------------------------


def _add_field(doc: Doc, where: str) -> None:
    target = {
        "top": lambda: doc,
        "version": lambda: doc["version"],
        "variable": lambda: doc["variables"]["order-id"],
        "thread": lambda: doc["threads"]["ship"],
        "thread-variable": lambda: doc["threads"]["ship"]["variables"]["tracking"],
        "node": lambda: charge(doc),
        "edge": lambda: charge(doc)["edges"][0],
        "mutation": lambda: charge(doc)["edges"][0]["mutations"][0],
        "expr": lambda: charge(doc)["edges"][0]["when"]["left"],
        "handler": lambda: charge(doc)["handlers"][0],
        "interrupt": lambda: doc["threads"]["main"]["interrupts"][0],
    }[where]()
    target["retriez"] = 1


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("top", "$"),
        ("version", "$.version"),
        ("variable", "$.variables.order-id"),
        ("thread", "$.threads.ship"),
        ("thread-variable", "$.threads.ship.variables.tracking"),
        ("node", CHARGE),
        ("edge", f"{CHARGE}.edges[0]"),
        ("mutation", f"{CHARGE}.edges[0].mutations[0]"),
        ("expr", f"{CHARGE}.edges[0].when.left"),
        ("handler", f"{CHARGE}.handlers[0]"),
        ("interrupt", "$.threads.main.interrupts[0]"),
    ],
)
def test_unknown_field_names_the_object_that_holds_it(spec_error: Load, doc: Doc, where: str, path: str) -> None:
    """The path is the object containing the unknown field; the reason names the field."""
    _add_field(doc, where)
    assert_error(spec_error(doc), path, "Object contains unknown field `retriez`")


def test_unknown_field_in_a_node_inside_a_dict_key_has_the_real_keys(spec_error: Load, doc: Doc) -> None:
    charge(doc)["retriez"] = 3
    error = spec_error(doc)
    assert error.path == "$.threads.main.nodes.charge-card"
    assert "[...]" not in str(error)


# --- node kinds -----------------------------------------------------------------------------------


def test_unknown_node_kind(spec_error: Load, doc: Doc) -> None:
    charge(doc)["kind"] = "bogus"
    assert_error(spec_error(doc), f"{CHARGE}.kind", "Invalid value 'bogus'")


def test_missing_node_kind(spec_error: Load, doc: Doc) -> None:
    del charge(doc)["kind"]
    assert_error(spec_error(doc), CHARGE, "Object missing required field `kind`")


def test_unknown_expression_kind(spec_error: Load, doc: Doc) -> None:
    charge(doc)["args"][1] = {"kind": "lambda"}
    assert_error(spec_error(doc), f"{CHARGE}.args[1].kind", "Invalid value 'lambda'")


# --- wrong types and enum values ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda d: d.update(name=5), "$.name", "Expected `str`, got `int`"),
        (lambda d: d.update(threads=[]), "$.threads", "Expected `object`, got `array`"),
        (lambda d: d.update(version=None), "$.version", "Expected `object`, got `null`"),
        (lambda d: d["version"].update(major="1"), "$.version.major", "Expected `int`, got `str`"),
        (lambda d: d.update(output="decimal"), "$.output", "Invalid enum value 'decimal'"),
        (
            lambda d: d["variables"]["amount"].update(type="double"),
            "$.variables.amount.type",
            "Invalid enum value 'double'",
        ),
        (
            lambda d: d["variables"]["amount"].update(required="yes"),
            "$.variables.amount.required",
            "Expected `bool`, got `str`",
        ),
        (
            lambda d: d["threads"]["ship"]["variables"]["tracking"].update(type="text"),
            "$.threads.ship.variables.tracking.type",
            "Invalid enum value 'text'",
        ),
        (lambda d: d["threads"].update(ship="x"), "$.threads.ship", "Expected `object`, got `str`"),
        (lambda d: d["threads"].update(ship=None), "$.threads.ship", "Expected `object`, got `null`"),
        (
            lambda d: d["threads"]["ship"].update(variables=[]),
            "$.threads.ship.variables",
            "Expected `object`, got `array`",
        ),
        (lambda d: charge(d).update(retries="3"), f"{CHARGE}.retries", "Expected `int | null`, got `str`"),
        (lambda d: charge(d).update(retries=3.0), f"{CHARGE}.retries", "Expected `int | null`, got `float`"),
        (lambda d: charge(d).update(retries=True), f"{CHARGE}.retries", "Expected `int | null`, got `bool`"),
        (lambda d: charge(d).update(timeout="30"), f"{CHARGE}.timeout", "Expected `float | null`, got `str`"),
        (lambda d: charge(d).update(edges={}), f"{CHARGE}.edges", "Expected `array`, got `object`"),
        (lambda d: charge(d).update(task=None), f"{CHARGE}.task", "Expected `str`, got `null`"),
        (lambda d: charge(d)["handlers"][0].update(on="oops"), f"{CHARGE}.handlers[0].on", "Invalid enum value 'oops'"),
        (
            lambda d: charge(d)["edges"][0]["mutations"][0].update(op="pow"),
            f"{CHARGE}.edges[0].mutations[0].op",
            "Invalid enum value 'pow'",
        ),
        (
            lambda d: charge(d)["edges"][0]["when"].update(op="**"),
            f"{CHARGE}.edges[0].when.op",
            "Invalid enum value '**'",
        ),
        (
            lambda d: charge(d)["args"][0].update(path=[1.5]),
            f"{CHARGE}.args[0].path[0]",
            "Expected `int | str`, got `float`",
        ),
        (
            lambda d: nodes(d)["wait-ship"].update(strategy="SOME"),
            f"{MAIN}.wait-ship.strategy",
            "Invalid enum value 'SOME'",
        ),
        (
            lambda d: nodes(d)["wait-ship"].update(threads="spawn-ship"),
            f"{MAIN}.wait-ship.threads",
            "Expected `array`, got `str`",
        ),
    ],
)
def test_wrong_type(spec_error: Load, doc: Doc, mutate: Callable[[Doc], None], path: str, reason: str) -> None:
    mutate(doc)
    assert_error(spec_error(doc), path, reason)


# --- missing required fields ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path", "field"),
    [
        (lambda d: d["version"].pop("revision"), "$.version", "revision"),
        (lambda d: d["variables"]["amount"].pop("type"), "$.variables.amount", "type"),
        (lambda d: d["threads"]["ship"].pop("nodes"), "$.threads.ship", "nodes"),
        (lambda d: charge(d).pop("task"), CHARGE, "task"),
        (lambda d: charge(d).pop("edges"), CHARGE, "edges"),
        (lambda d: nodes(d)["exit"].pop("edges"), f"{MAIN}.exit", "edges"),
        (lambda d: charge(d)["edges"][0].pop("to"), f"{CHARGE}.edges[0]", "to"),
        (lambda d: charge(d)["handlers"][0].pop("thread"), f"{CHARGE}.handlers[0]", "thread"),
        (lambda d: charge(d)["args"][0].pop("name"), f"{CHARGE}.args[0]", "name"),
        (lambda d: d["threads"]["main"]["interrupts"][0].pop("event"), "$.threads.main.interrupts[0]", "event"),
    ],
)
def test_missing_required_field(
    spec_error: Load, doc: Doc, mutate: Callable[[Doc], None], path: str, field: str
) -> None:
    mutate(doc)
    assert_error(spec_error(doc), path, f"Object missing required field `{field}`")


# --- graph consistency ----------------------------------------------------------------------------


def test_edge_to_a_missing_node(spec_error: Load, doc: Doc) -> None:
    charge(doc)["edges"][1]["to"] = "nowhere"
    assert_error(spec_error(doc), f"{CHARGE}.edges[1].to", "edge to node 'nowhere', which is not in thread 'main'")


def test_edge_to_a_node_of_another_thread(spec_error: Load, doc: Doc) -> None:
    nodes(doc, "ship")["entrypoint"]["edges"][0]["to"] = "charge-card"
    assert_error(
        spec_error(doc),
        "$.threads.ship.nodes.entrypoint.edges[0].to",
        "edge to node 'charge-card', which is not in thread 'ship'",
    )


def test_handler_naming_a_missing_thread(spec_error: Load, doc: Doc) -> None:
    charge(doc)["handlers"].append({"on": "any", "thread": "nope"})
    assert_error(
        spec_error(doc), f"{CHARGE}.handlers[1].thread", f"thread 'nope' does not exist; threads are {THREADS}"
    )


def test_spawn_naming_a_missing_thread(spec_error: Load, doc: Doc) -> None:
    nodes(doc)["spawn-ship"]["thread"] = "shipp"
    assert_error(spec_error(doc), f"{MAIN}.spawn-ship.thread", f"thread 'shipp' does not exist; threads are {THREADS}")


def test_spawn_for_each_naming_a_missing_thread(spec_error: Load, doc: Doc) -> None:
    nodes(doc)["spawn-ship"] = {
        "kind": "spawn_thread_for_each",
        "thread": "nope",
        "items": {"kind": "list"},
        "edges": [{"to": "wait-ship"}],
    }
    assert_error(spec_error(doc), f"{MAIN}.spawn-ship.thread", f"thread 'nope' does not exist; threads are {THREADS}")


def test_interrupt_naming_a_missing_thread(spec_error: Load, doc: Doc) -> None:
    doc["threads"]["main"]["interrupts"].append({"event": "pause", "thread": "nope"})
    assert_error(
        spec_error(doc),
        "$.threads.main.interrupts[1].thread",
        f"thread 'nope' does not exist; threads are {THREADS}",
    )


def test_entrypoint_thread_missing(spec_error: Load, doc: Doc) -> None:
    doc["entrypoint"] = "start"
    assert_error(spec_error(doc), "$.entrypoint", f"thread 'start' does not exist; threads are {THREADS}")


def test_thread_without_entrypoint_node(spec_error: Load, doc: Doc) -> None:
    ship = nodes(doc, "ship")
    ship["begin"] = ship.pop("entrypoint")
    assert_error(spec_error(doc), "$.threads.ship.nodes", "thread needs an entrypoint node with id 'entrypoint'")


def test_entrypoint_id_on_a_node_of_another_kind(spec_error: Load, doc: Doc) -> None:
    nodes(doc, "ship")["entrypoint"]["kind"] = "nop"
    assert_error(spec_error(doc), "$.threads.ship.nodes", "thread needs an entrypoint node with id 'entrypoint'")


def test_second_entrypoint_node(spec_error: Load, doc: Doc) -> None:
    nodes(doc, "ship")["start"] = {"kind": "entrypoint", "edges": [{"to": "exit"}]}
    assert_error(spec_error(doc), "$.threads.ship.nodes.start", "only the node 'entrypoint' may be an entrypoint")


def test_thread_without_terminal_node(spec_error: Load, doc: Doc) -> None:
    nodes(doc, "ship")["exit"] = {"kind": "nop", "edges": [{"to": "entrypoint"}]}
    assert_error(
        spec_error(doc), "$.threads.ship.nodes", "thread has no exit, fail or compensate node, so it can never end"
    )


@pytest.mark.parametrize(
    "terminal",
    [
        {"kind": "fail", "failure": "out-of-stock", "edges": []},
        {"kind": "compensate", "edges": []},
    ],
)
def test_fail_and_compensate_nodes_end_a_thread(doc: Doc, terminal: dict[str, Any]) -> None:
    nodes(doc, "ship")["exit"] = terminal
    loads(json.dumps(doc))


def test_non_terminal_node_without_edges(spec_error: Load, doc: Doc) -> None:
    nodes(doc)["wait-ship"]["edges"] = []
    assert_error(
        spec_error(doc),
        f"{MAIN}.wait-ship.edges",
        "node has no outgoing edge; only exit, fail and compensate nodes end a thread",
    )


@pytest.mark.parametrize(
    ("node", "article"),
    [
        pytest.param(
            {"kind": "exit"},
            "an",
        ),
        ({"kind": "fail", "failure": "boom"}, "a"),
        ({"kind": "compensate"}, "a"),
    ],
    ids=["exit", "fail", "compensate"],
)
def test_terminal_node_with_edges(spec_error: Load, doc: Doc, node: dict[str, Any], article: str) -> None:
    nodes(doc)["exit"] = {**node, "edges": [{"to": "charge-card"}]}
    assert_error(
        spec_error(doc), f"{MAIN}.exit.edges", f"{article} {node['kind']} node ends its thread and cannot have edges"
    )


@pytest.mark.parametrize("target", ["charge-card", "nowhere", "exit"])
def test_wait_for_threads_naming_a_non_spawn_node(spec_error: Load, doc: Doc, target: str) -> None:
    nodes(doc)["wait-ship"]["threads"] = ["spawn-ship", target]
    assert_error(spec_error(doc), f"{MAIN}.wait-ship.threads[1]", f"{target!r} is not a spawn node of this thread")


def test_wait_for_threads_accepts_spawn_for_each(doc: Doc) -> None:
    nodes(doc)["spawn-ship"] = {
        "kind": "spawn_thread_for_each",
        "thread": "ship",
        "items": {"kind": "list", "items": [{"kind": "literal", "value": 1}]},
        "item_var": "tracking",
        "edges": [{"to": "wait-ship"}],
    }
    loads(json.dumps(doc))


def test_wait_for_threads_naming_a_spawn_node_of_another_thread(spec_error: Load, doc: Doc) -> None:
    ship = nodes(doc, "ship")
    ship["wait"] = {"kind": "wait_for_threads", "threads": ["spawn-ship"], "edges": [{"to": "exit"}]}
    ship["entrypoint"]["edges"][0]["to"] = "wait"
    assert_error(
        spec_error(doc), "$.threads.ship.nodes.wait.threads[0]", "'spawn-ship' is not a spawn node of this thread"
    )


# --- expressions ----------------------------------------------------------------------------------


def test_output_ref_to_a_node_not_in_the_thread(spec_error: Load, doc: Doc) -> None:
    nodes(doc, "ship")["exit"]["output"] = {"kind": "output", "node": "charge-card"}
    assert_error(
        spec_error(doc), "$.threads.ship.nodes.exit.output", "output of node 'charge-card', which is not in this thread"
    )


def test_output_ref_nested_in_an_edge_condition(spec_error: Load, doc: Doc) -> None:
    charge(doc)["edges"][0]["when"]["right"] = {"kind": "output", "node": "ghost", "path": ["x"]}
    assert_error(spec_error(doc), f"{CHARGE}.edges[0].when", "output of node 'ghost', which is not in this thread")


def test_output_ref_in_a_mutation_value(spec_error: Load, doc: Doc) -> None:
    charge(doc)["edges"][0]["mutations"][0]["value"] = {"kind": "output", "node": "ghost"}
    assert_error(
        spec_error(doc), f"{CHARGE}.edges[0].mutations[0].value", "output of node 'ghost', which is not in this thread"
    )


def test_output_ref_in_spawn_inputs(spec_error: Load, doc: Doc) -> None:
    nodes(doc)["spawn-ship"]["inputs"]["order-id"] = {"kind": "output", "node": "ghost"}
    assert_error(
        spec_error(doc), f"{MAIN}.spawn-ship.inputs.order-id", "output of node 'ghost', which is not in this thread"
    )


def test_unknown_function(spec_error: Load, doc: Doc) -> None:
    charge(doc)["args"][1] = {"kind": "call", "fn": "sqrt", "args": [{"kind": "var", "name": "amount"}]}
    assert_error(
        spec_error(doc),
        f"{CHARGE}.args[1]",
        "unknown function 'sqrt'; known: len, lower, upper, str, int, float, bool, abs, round, min, max",
    )


@pytest.mark.parametrize(
    ("fn", "count", "reason"),
    [
        ("len", 0, "len() takes 1..1 arguments, got 0"),
        ("len", 2, "len() takes 1..1 arguments, got 2"),
        ("round", 3, "round() takes 1..2 arguments, got 3"),
        ("min", 0, "min() takes 1..8 arguments, got 0"),
        ("max", 9, "max() takes 1..8 arguments, got 9"),
    ],
)
def test_wrong_arity(spec_error: Load, doc: Doc, fn: str, count: int, reason: str) -> None:
    args = [{"kind": "literal", "value": i} for i in range(count)]
    charge(doc)["edges"][0]["when"]["left"] = {"kind": "call", "fn": fn, "args": args}
    assert_error(spec_error(doc), f"{CHARGE}.edges[0].when", reason)


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_every_function_accepts_its_arities(doc: Doc, fn: str) -> None:
    low, high = FUNCTIONS[fn]
    for count in {low, high}:
        args = [{"kind": "literal", "value": 1} for _ in range(count)]
        charge(doc)["edges"][0]["when"]["left"] = {"kind": "call", "fn": fn, "args": args}
        loads(json.dumps(doc))


def test_bad_call_deep_inside_an_expression(spec_error: Load, doc: Doc) -> None:
    charge(doc)["edges"][0]["when"] = {
        "kind": "unary",
        "op": "not",
        "operand": {"kind": "list", "items": [{"kind": "call", "fn": "eval", "args": []}]},
    }
    error = spec_error(doc)
    assert error.path == f"{CHARGE}.edges[0].when"
    assert error.reason.startswith("unknown function 'eval'")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: charge(d)["args"].append({"kind": "var", "name": "nope"}), f"{CHARGE}.args[2]"),
        (lambda d: charge(d)["edges"][0]["mutations"][0].update(var="nope"), f"{CHARGE}.edges[0].mutations[0].var"),
        (
            lambda d: nodes(d)["exit"].update(output={"kind": "var", "name": "nope", "path": [0]}),
            f"{MAIN}.exit.output",
        ),
    ],
    ids=["arg", "mutation", "exit-output"],
)
def test_undeclared_variable(spec_error: Load, doc: Doc, mutate: Callable[[Doc], None], path: str) -> None:
    mutate(doc)
    assert_error(spec_error(doc), path, "variable 'nope' is not declared")


def test_thread_variables_are_declared_variables(doc: Doc) -> None:
    nodes(doc, "ship")["exit"]["output"] = {"kind": "var", "name": "tracking"}
    loads(json.dumps(doc))


# --- scalar checks --------------------------------------------------------------------------------


def test_newer_schema_id(spec_error: Load, doc: Doc) -> None:
    doc["schema"] = "wfc/3"
    assert_error(
        spec_error(doc),
        "$.schema",
        "unsupported schema 'wfc/3'; this wfc reads 'wfc/1' and 'wfc/2', and it was written by a newer wfc: "
        "upgrade wfc to read it",
    )


@pytest.mark.parametrize("schema", ["wfc/0", "", "WFC/1", "wfc/1 ", "json-schema"])
def test_bad_schema_id(spec_error: Load, doc: Doc, schema: str) -> None:
    doc["schema"] = schema
    error = spec_error(doc)
    assert error.path == "$.schema"
    assert error.reason.startswith(f"unsupported schema {schema!r}; this wfc reads 'wfc/1' and 'wfc/2'")


@pytest.mark.parametrize("schema", ["wfc/0", "", "WFC/1", "json-schema"])
def test_upgrade_advice_only_for_newer_schemas(spec_error: Load, doc: Doc, schema: str) -> None:
    doc["schema"] = schema
    assert "upgrade wfc" not in spec_error(doc).reason


@pytest.mark.parametrize("retries", [-1, -100])
def test_negative_retries(spec_error: Load, doc: Doc, retries: int) -> None:
    charge(doc)["retries"] = retries
    assert_error(spec_error(doc), f"{CHARGE}.retries", "retries must be >= 0")


def test_zero_retries_is_fine(doc: Doc) -> None:
    charge(doc)["retries"] = 0
    loads(json.dumps(doc))


def test_retries_may_be_left_unset(doc: Doc) -> None:
    del charge(doc)["retries"]
    loads(json.dumps(doc))


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -0.5])
def test_non_positive_task_timeout(spec_error: Load, doc: Doc, timeout: float) -> None:
    charge(doc)["timeout"] = timeout
    assert_error(spec_error(doc), f"{CHARGE}.timeout", "timeout must be > 0 seconds")


@pytest.mark.parametrize("timeout", [None, 1e-3, 30, 86400.0])
def test_positive_or_absent_timeout_is_fine(doc: Doc, timeout: float | None) -> None:
    charge(doc)["timeout"] = timeout
    loads(json.dumps(doc))


@pytest.mark.parametrize(("major", "revision"), [(0, 0), (-1, 3), (1, -1), (2**31, 0), (1, 2**31)])
def test_bad_version_numbers(spec_error: Load, doc: Doc, major: int, revision: int) -> None:
    """Versions are stored in 32-bit integer columns."""
    doc["version"] = {"major": major, "revision": revision}
    assert_error(spec_error(doc), "$.version", "major must be 1 to 2147483647 and revision 0 to 2147483647")


# --- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "has space", "-leading-dash", ".dot", "a/b", "naïve", "tab\there"])
def test_bad_workflow_name(spec_error: Load, doc: Doc, name: str) -> None:
    doc["name"] = name
    assert_error(spec_error(doc), "$.name", f"workflow name {name!r} must be letters, digits, '_', '-', '.' or ':'")


@pytest.mark.parametrize("name", ["w", "checkout", "checkout-v2", "team.checkout", "ns:checkout", "_x", "9lives"])
def test_good_workflow_name(doc: Doc, name: str) -> None:
    doc["name"] = name
    assert loads(json.dumps(doc)).name == name


@pytest.mark.parametrize("node_id", ["has space", "", "-dash", "a/b"])
def test_bad_node_id(spec_error: Load, doc: Doc, node_id: str) -> None:
    ship = nodes(doc, "ship")
    ship[node_id] = {"kind": "nop", "edges": [{"to": "exit"}]}
    ship["entrypoint"]["edges"][0]["to"] = node_id
    assert_error(
        spec_error(doc),
        f"$.threads.ship.nodes.{node_id}",
        f"node id {node_id!r} must be letters, digits, '_', '-', '.' or ':'",
    )


# --- known bugs: the behaviour the format promises ------------------------------------------------

_LOCATE_CRASH = (
    "codec._locate calls .items() on thread 'nodes'/'variables' or top-level 'variables' "
    "without checking they are dicts"
)


@pytest.mark.parametrize(
    ("field", "value", "got"),
    [("nodes", [1], "array"), ("nodes", "x", "str"), ("variables", 5, "int"), ("variables", "x", "str")],
)
def test_thread_field_of_wrong_container_type(spec_error: Load, doc: Doc, field: str, value: Any, got: str) -> None:
    doc["threads"]["ship"][field] = value
    assert_error(spec_error(doc), f"$.threads.ship.{field}", f"Expected `object`, got `{got}`")


@pytest.mark.parametrize("variables", [None, [], "x"])
def test_bad_top_level_variables_after_an_error_inside_threads(spec_error: Load, doc: Doc, variables: Any) -> None:
    charge(doc)["retries"] = "3"
    data = {"threads": doc.pop("threads"), "variables": variables, **{k: v for k, v in doc.items() if k != "variables"}}
    error = spec_error(data)
    assert error.path in {f"{CHARGE}.retries", "$.variables"}
    assert "[...]" not in error.path


@pytest.mark.parametrize("kind", ["spawn_thread", "spawn_thread_for_each"])
def test_error_inside_spawn_inputs_has_the_real_key(spec_error: Load, doc: Doc, kind: str) -> None:
    spawn = nodes(doc)["spawn-ship"]
    spawn["kind"] = kind
    if kind == "spawn_thread_for_each":
        spawn["items"] = {"kind": "list"}
    spawn["inputs"]["order-id"] = {"kind": "bad"}
    assert_error(spec_error(doc), f"{MAIN}.spawn-ship.inputs.order-id.kind", "Invalid value 'bad'")


@pytest.mark.parametrize("data", [b'"\x80"', b'{"name": "caf\xe9"}'], ids=["lone-continuation", "latin-1"])
def test_invalid_utf8_inside_a_string_is_a_spec_error(spec_error: Load, data: bytes) -> None:
    error = spec_error(data)
    assert error.path == "$"
    assert error.reason.startswith("not valid JSON (")


def test_str_with_a_lone_surrogate_is_a_spec_error(spec_error: Load) -> None:
    error = spec_error('{"name": "\ud800"}')
    assert error.path == "$"


@pytest.mark.parametrize("data", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_deeply_nested_json_is_a_spec_error(spec_error: Load, data: bytes) -> None:
    assert spec_error(data).path == "$"


def test_workflow_name_with_a_trailing_newline(spec_error: Load, doc: Doc) -> None:
    doc["name"] = "checkout\n"
    assert_error(spec_error(doc), "$.name", "workflow name 'checkout\\n' must be letters, digits, '_', '-', '.' or ':'")


def test_node_id_with_a_trailing_newline(spec_error: Load, doc: Doc) -> None:
    ship = nodes(doc, "ship")
    ship["next\n"] = {"kind": "nop", "edges": [{"to": "exit"}]}
    ship["entrypoint"]["edges"][0]["to"] = "next\n"
    error = spec_error(doc)
    assert error.path == "$.threads.ship.nodes.next\n"
    assert error.reason.startswith("node id 'next\\n' must be")


@pytest.mark.parametrize("name", ["", "has space", "a\n"])
def test_bad_thread_name(spec_error: Load, doc: Doc, name: str) -> None:
    doc["threads"][name] = doc["threads"].pop("on-error")
    charge(doc)["handlers"][0]["thread"] = name
    doc["threads"]["main"]["interrupts"][0]["thread"] = name
    error = spec_error(doc)
    assert error.path == f"$.threads.{name}"
    assert repr(name) in error.reason


@pytest.mark.parametrize("scope", ["workflow", "thread"])
def test_empty_variable_name(spec_error: Load, doc: Doc, scope: str) -> None:
    variables = doc["variables"] if scope == "workflow" else doc["threads"]["ship"]["variables"]
    variables[""] = {"type": "str"}
    error = spec_error(doc)
    prefix = "$.variables" if scope == "workflow" else "$.threads.ship.variables"
    assert error.path == f"{prefix}."
    assert "''" in error.reason


@pytest.mark.parametrize("kind", ["wait_for_event", "wait_for_threads"])
@pytest.mark.parametrize("timeout", [0, -5])
def test_non_positive_wait_timeout(spec_error: Load, doc: Doc, kind: str, timeout: float) -> None:
    wait = nodes(doc)["wait-ship"]
    if kind == "wait_for_event":
        wait.update(kind="wait_for_event", event="shipped")
        del wait["threads"]
    wait["timeout"] = timeout
    assert_error(spec_error(doc), f"{MAIN}.wait-ship.timeout", "timeout must be > 0 seconds")


def test_negative_compensation_retries(spec_error: Load, doc: Doc) -> None:
    charge(doc)["compensation"] = {"task": "refund-card", "retries": -1}
    assert_error(spec_error(doc), f"{CHARGE}.compensation.retries", "retries must be >= 0")


@pytest.mark.parametrize("field", ["initial", "multiplier", "maximum"])
def test_negative_backoff(spec_error: Load, doc: Doc, field: str) -> None:
    charge(doc)["backoff"] = {field: -1.0}
    error = spec_error(doc)
    assert error.path == f"{CHARGE}.backoff.{field}"


@pytest.mark.parametrize(("type_", "default"), [("int", "ten"), ("str", 5), ("bool", "yes"), ("float", [1.0])])
def test_default_of_the_wrong_type(spec_error: Load, doc: Doc, type_: str, default: Any) -> None:
    doc["variables"]["x"] = {"type": type_, "default": default}
    assert spec_error(doc).path == "$.variables.x.default"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: charge(d)["args"].append({"kind": "var", "name": "nope"}), f"{CHARGE}.args[2]"),
        (lambda d: charge(d)["edges"][0]["mutations"][0].update(var="nope"), f"{CHARGE}.edges[0].mutations[0].var"),
    ],
    ids=["arg", "mutation"],
)
def test_undeclared_variable_names_the_exact_field(
    spec_error: Load, doc: Doc, mutate: Callable[[Doc], None], path: str
) -> None:
    mutate(doc)
    assert_error(spec_error(doc), path, "variable 'nope' is not declared")


_SAME_ERROR_SCRIPT = """
import json, sys
from wfc.specs import SpecError, loads
try:
    loads(sys.stdin.read())
except SpecError as error:
    print(error)
"""


def test_error_for_several_undeclared_variables_does_not_depend_on_hash_seed(doc: Doc) -> None:
    charge(doc)["args"] = [{"kind": "var", "name": name} for name in "abcdefghij"]
    messages = set()
    for seed in range(8):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        result = subprocess.run(
            [sys.executable, "-c", _SAME_ERROR_SCRIPT],
            input=json.dumps(doc),
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        messages.add(result.stdout.strip())
    assert len(messages) == 1, messages
