"""loads/validate refuse what cannot be stored or run, naming the field:
values past the limits, expressions nested too deeply, durations past 100
years, and graphs in which some node can never reach the end."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from wfc.specs import (
    MAX_EXPRESSION_DEPTH,
    LiteralExpr,
    SpecError,
    ThreadSpec,
    dumps,
    loads,
    trapped_nodes,
    validate,
)

Doc = dict[str, Any]
Load = Callable[[Any], SpecError]


def main_nodes(doc: Doc) -> dict[str, Any]:
    nodes: dict[str, Any] = doc["threads"]["main"]["nodes"]
    return nodes


def condition(doc: Doc) -> dict[str, Any]:
    when: dict[str, Any] = main_nodes(doc)["charge-card"]["edges"][0]["when"]
    return when


def and_chain(terms: int) -> dict[str, Any]:
    expr: dict[str, Any] = {"kind": "var", "name": "amount"}
    for _ in range(terms - 1):
        expr = {"kind": "binary", "op": "and", "left": expr, "right": {"kind": "var", "name": "amount"}}
    return expr


WHEN = "$.threads.main.nodes.charge-card.edges[0].when"


# --- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "inner", "start"),
    [
        (2**63, "", "an integer outside the signed 64-bit range"),
        ({"a": [-(2**63) - 1]}, ".a[0]", "an integer outside"),
        ([[[[1]]]], "", None),
    ],
)
def test_literal_values_are_within_the_limits(spec_error: Load, doc: Doc, value: Any, inner: str,
                                              start: str | None) -> None:
    condition(doc)["right"] = {"kind": "literal", "value": value}
    if start is None:
        loads(json.dumps(doc))
        return
    error = spec_error(doc)
    assert error.path == f"{WHEN}{inner}"
    assert error.reason.startswith(start)


def test_a_literal_nested_past_the_limit_is_refused(spec_error: Load, doc: Doc) -> None:
    value: Any = 1
    for _ in range(65):
        value = [value]
    condition(doc)["right"] = {"kind": "literal", "value": value}
    error = spec_error(doc)
    assert error.path.startswith(WHEN + "[0]")
    assert "nested deeper than 64 levels" in error.reason


def test_a_default_outside_the_limits_names_the_variable(spec_error: Load, doc: Doc) -> None:
    doc["variables"]["attempts"]["default"] = 2**64
    error = spec_error(doc)
    assert error.path == "$.variables.attempts.default"


def test_validate_refuses_values_json_cannot_hold_with_their_path(doc: Doc) -> None:
    """Specs built in Python never went through the JSON decoder."""
    spec = loads(json.dumps(doc))
    node = spec.threads["main"].nodes["charge-card"]
    for bad, start in ((math.nan, "NaN"), ("\ud800", "a string holds a lone UTF-16 surrogate")):
        edge = msgspec.structs.replace(node.edges[0], when=LiteralExpr(value=bad))
        changed = msgspec.structs.replace(node, edges=[edge, *node.edges[1:]])
        nodes = {**spec.threads["main"].nodes, "charge-card": changed}
        threads = {**spec.threads, "main": msgspec.structs.replace(spec.threads["main"], nodes=nodes)}
        with pytest.raises(SpecError) as info:
            validate(msgspec.structs.replace(spec, threads=threads))
        assert info.value.path == WHEN
        assert info.value.reason.startswith(start)


@pytest.mark.parametrize("field", ["task"])
def test_a_nul_in_a_task_name_is_refused(spec_error: Load, doc: Doc, field: str) -> None:
    main_nodes(doc)["charge-card"][field] = "charge\u0000card"
    error = spec_error(doc)
    assert (error.path, error.reason) == (
        "$.threads.main.nodes.charge-card.task", "task name contains a NUL character, which the database cannot store")


# --- durations and moments -------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [1e10, 4e9])
def test_a_timeout_past_100_years_is_refused(spec_error: Load, doc: Doc, timeout: float) -> None:
    main_nodes(doc)["charge-card"]["timeout"] = timeout
    error = spec_error(doc)
    assert error.path == "$.threads.main.nodes.charge-card.timeout"
    assert "at most 3153600000 seconds (100 years)" in error.reason


def test_a_backoff_past_100_years_is_refused(spec_error: Load, doc: Doc) -> None:
    main_nodes(doc)["charge-card"]["backoff"] = {"initial": 1, "multiplier": 2, "maximum": 1e12}
    assert spec_error(doc).path == "$.threads.main.nodes.charge-card.backoff.maximum"


def test_literal_sleeps_past_the_limits_are_refused(spec_error: Load, doc: Doc) -> None:
    nodes = main_nodes(doc)
    nodes["entrypoint"]["edges"] = [{"to": "nap"}]
    nodes["nap"] = {"kind": "sleep", "seconds": {"kind": "literal", "value": 10**12}, "edges": [{"to": "charge-card"}]}
    assert spec_error(doc).path == "$.threads.main.nodes.nap.seconds"
    until = {"kind": "literal", "value": 3e11}
    nodes["nap"] = {"kind": "sleep_until", "until": until, "edges": [{"to": "charge-card"}]}
    error = spec_error(doc)
    assert (error.path, error.reason) == ("$.threads.main.nodes.nap.until",
                                          "a moment must lie between year 1 and the end of year 9999 (UTC)")


# --- expression depth --------------------------------------------------------------------------------


def test_an_expression_at_the_depth_limit_loads_and_dumps(doc: Doc) -> None:
    doc["threads"]["main"]["nodes"]["charge-card"]["edges"][0]["when"] = and_chain(MAX_EXPRESSION_DEPTH)
    spec = loads(json.dumps(doc))
    assert loads(dumps(spec)) == spec


@pytest.mark.parametrize("terms", [MAX_EXPRESSION_DEPTH + 1, 500])
def test_an_expression_past_the_depth_limit_is_a_spec_error(spec_error: Load, doc: Doc, terms: int) -> None:
    doc["threads"]["main"]["nodes"]["charge-card"]["edges"][0]["when"] = and_chain(terms)
    error = spec_error(doc)
    assert error.path == WHEN
    assert error.reason.startswith(f"the expression nests {terms} levels deep, more than the 256 allowed")


def test_json_too_deep_to_decode_is_a_spec_error_not_a_recursion_error(spec_error: Load, doc: Doc) -> None:
    text = json.dumps(doc).replace('"when": {', '"when": ' + '{"kind": "not", "operand": ' * 5000 + "{", 1)
    text = text.replace(', "mutations"', "}" * 5000 + ', "mutations"', 1)
    assert "nested too deeply" in str(spec_error(text))


# --- trapped nodes -------------------------------------------------------------------------------


def loop_doc(doc: Doc, loop_edges: list[dict[str, Any]]) -> Doc:
    nodes = main_nodes(doc)
    nodes["entrypoint"]["edges"] = [{"to": "loop-2"}]
    nodes["loop-2"] = {"kind": "nop", "edges": loop_edges}
    nodes["body"] = {"kind": "task", "task": "poll", "retries": 0, "edges": [{"to": "loop-2"}]}
    return doc


AMOUNT_BIG = {"kind": "binary", "op": ">", "left": {"kind": "var", "name": "amount"},
              "right": {"kind": "literal", "value": 1}}


def test_a_cycle_without_a_way_out_names_every_trapped_node(spec_error: Load, doc: Doc) -> None:
    error = spec_error(loop_doc(doc, [{"to": "body"}]))
    assert error.path == "$.threads.main.nodes.loop-2"
    assert error.reason.startswith("nodes $.threads.main.nodes.loop-2, $.threads.main.nodes.body, "
                                   "$.threads.main.nodes.entrypoint can never reach an exit, fail or compensate "
                                   "node, so a run that gets there never ends")


def test_a_loop_with_a_way_out_is_legal(doc: Doc) -> None:
    loads(json.dumps(loop_doc(doc, [{"to": "body", "when": AMOUNT_BIG}, {"to": "charge-card"}])))


def test_a_loop_whose_condition_is_literally_true_never_ends(spec_error: Load, doc: Doc) -> None:
    edges = [{"to": "body", "when": {"kind": "literal", "value": True}}, {"to": "charge-card"}]
    error = spec_error(loop_doc(doc, edges))
    assert "$.threads.main.nodes.loop-2" in error.reason
    assert "$.threads.main.nodes.body" in error.reason


def test_an_edge_that_is_literally_false_is_no_way_out(spec_error: Load, doc: Doc) -> None:
    edges = [{"to": "charge-card", "when": {"kind": "literal", "value": False}}, {"to": "body"}]
    assert "$.threads.main.nodes.loop-2" in spec_error(loop_doc(doc, edges)).reason


def test_a_way_out_before_a_literally_true_edge_counts(doc: Doc) -> None:
    edges = [{"to": "charge-card", "when": AMOUNT_BIG}, {"to": "body", "when": {"kind": "literal", "value": True}}]
    loads(json.dumps(loop_doc(doc, edges)))


def test_a_failure_handler_is_no_way_out_of_the_failed_nodes_thread(spec_error: Load, doc: Doc) -> None:
    loop_doc(doc, [{"to": "body"}])
    main_nodes(doc)["body"]["handlers"] = [{"on": "any", "thread": "on-error"}]
    assert spec_error(doc).path == "$.threads.main.nodes.loop-2"


def test_trapped_nodes_of_another_thread_are_named(spec_error: Load, doc: Doc) -> None:
    ship = doc["threads"]["ship"]["nodes"]
    ship["entrypoint"]["edges"] = [{"to": "spin"}]
    ship["spin"] = {"kind": "nop", "edges": [{"to": "spin"}]}
    error = spec_error(doc)
    assert error.path == "$.threads.ship.nodes.spin"
    assert "$.threads.ship.nodes.spin" in error.reason


def test_trapped_nodes_lists_where_runs_get_stuck_first(doc: Doc) -> None:
    spec = loads(json.dumps(doc))
    assert all(trapped_nodes(thread) == [] for thread in spec.threads.values())
    thread = msgspec.convert(loop_doc(doc, [{"to": "body"}])["threads"]["main"], ThreadSpec)
    assert trapped_nodes(thread) == ["loop-2", "body", "entrypoint"]
