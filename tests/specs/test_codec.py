"""Canonical JSON of specs: byte stability, layout, omitted defaults, hashes,
and the JSON Schema."""

from __future__ import annotations

import json
import re
import typing
from typing import Any

import msgspec
import pytest

from wfc.specs import (
    SCHEMA_ID,
    Edge,
    EntrypointNode,
    ExitNode,
    LiteralExpr,
    Node,
    NopNode,
    TaskNode,
    ThreadSpec,
    VariableDef,
    VarRef,
    Version,
    WorkflowSpec,
    body_hash,
    dumps,
    first_version,
    from_builtins,
    json_schema,
    loads,
    validate,
    with_hash,
)


def tiny_spec(**overrides: Any) -> WorkflowSpec:
    fields: dict[str, Any] = {
        "name": "w",
        "entrypoint": "main",
        "schema": SCHEMA_ID,
        "version": first_version(),
        "threads": {
            "main": ThreadSpec(
                nodes={
                    "entrypoint": EntrypointNode(edges=[Edge(to="t")]),
                    "t": TaskNode(task="x", retries=0, edges=[Edge(to="exit")]),
                    "exit": ExitNode(edges=[]),
                }
            )
        },
    }
    fields.update(overrides)
    return WorkflowSpec(**fields)


TINY_DUMP = b"""{
  "entrypoint": "main",
  "name": "w",
  "schema": "wfc/2",
  "threads": {
    "main": {
      "nodes": {
        "entrypoint": {
          "edges": [
            {
              "to": "t"
            }
          ],
          "kind": "entrypoint"
        },
        "exit": {
          "edges": [],
          "kind": "exit"
        },
        "t": {
          "edges": [
            {
              "to": "exit"
            }
          ],
          "kind": "task",
          "retries": 0,
          "task": "x"
        }
      }
    }
  },
  "version": {
    "major": 1,
    "revision": 0
  }
}
"""


def sorted_keys_everywhere(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(sorted_keys_everywhere(v) for v in value.values())
    if isinstance(value, list):
        return all(sorted_keys_everywhere(v) for v in value)
    return True


# --- exact layout ---------------------------------------------------------------------------------


def test_dump_of_a_tiny_spec_is_exactly_the_canonical_text() -> None:
    assert dumps(tiny_spec()) == TINY_DUMP


def test_dump_is_bytes_with_two_space_indent_and_one_trailing_newline(doc: dict[str, Any]) -> None:
    data = dumps(loads(json.dumps(doc)))
    assert isinstance(data, bytes)
    assert data.endswith(b"}\n")
    assert not data.endswith(b"\n\n")
    lines = data.decode().split("\n")[:-1]
    assert lines[0] == "{"
    assert lines[1].startswith('  "')
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 2 == 0, line
        assert line == line.rstrip(), "no trailing whitespace"
    # Equivalent to the standard library's canonical rendering.
    assert data == (json.dumps(json.loads(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def test_dump_sorts_keys_at_every_level(doc: dict[str, Any]) -> None:
    data = dumps(loads(json.dumps(doc)))
    assert sorted_keys_everywhere(json.loads(data))


def test_dump_is_utf8_and_keeps_non_ascii_text() -> None:
    spec = tiny_spec(variables={"città": VariableDef(type="str", default="Zürich")})
    data = dumps(spec)
    assert "Zürich".encode() in data
    assert "città".encode() in data
    assert loads(data) == spec


# --- stability ------------------------------------------------------------------------------------


def test_same_spec_gives_same_bytes_every_time(doc: dict[str, Any]) -> None:
    spec = loads(json.dumps(doc))
    assert dumps(spec) == dumps(spec) == dumps(loads(json.dumps(doc)))


def test_dict_insertion_order_does_not_change_the_bytes() -> None:
    entry = EntrypointNode(edges=[Edge(to="a")])
    a = NopNode(edges=[Edge(to="b")])
    b = NopNode(edges=[Edge(to="exit")])
    end = ExitNode(edges=[])
    other = ThreadSpec(nodes={"entrypoint": EntrypointNode(edges=[Edge(to="exit")]), "exit": ExitNode(edges=[])})
    one = tiny_spec(
        threads={
            "main": ThreadSpec(
                nodes={"entrypoint": entry, "a": a, "b": b, "exit": end},
                variables={"x": VariableDef(type="int"), "y": VariableDef(type="str")},
            ),
            "other": other,
        },
        variables={"p": VariableDef(type="bool"), "q": VariableDef(type="json")},
    )
    two = tiny_spec(
        threads={
            "other": other,
            "main": ThreadSpec(
                nodes={"exit": end, "b": b, "a": a, "entrypoint": entry},
                variables={"y": VariableDef(type="str"), "x": VariableDef(type="int")},
            ),
        },
        variables={"q": VariableDef(type="json"), "p": VariableDef(type="bool")},
    )
    assert one == two
    assert dumps(one) == dumps(two)
    assert body_hash(one) == body_hash(two)


def test_key_order_of_the_input_document_does_not_change_the_bytes(doc: dict[str, Any]) -> None:
    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    assert dumps(loads(json.dumps(reverse(doc)))) == dumps(loads(json.dumps(doc)))


def test_lists_keep_their_order() -> None:
    """Edges are tried in order: the canonical form must not sort them."""
    spec = tiny_spec(
        threads={
            "main": ThreadSpec(
                nodes={
                    "entrypoint": EntrypointNode(edges=[Edge(to="z", when=LiteralExpr(value=True)), Edge(to="a")]),
                    "z": NopNode(edges=[Edge(to="exit")]),
                    "a": NopNode(edges=[Edge(to="exit")]),
                    "exit": ExitNode(edges=[]),
                }
            )
        }
    )
    edges = json.loads(dumps(spec))["threads"]["main"]["nodes"]["entrypoint"]["edges"]
    assert [e["to"] for e in edges] == ["z", "a"]


# --- defaults -------------------------------------------------------------------------------------


def test_defaults_are_omitted_but_required_keys_are_kept() -> None:
    out = json.loads(dumps(tiny_spec()))
    assert set(out) == {"entrypoint", "name", "schema", "threads", "version"}
    assert out["schema"] == "wfc/2"
    assert out["version"] == {"major": 1, "revision": 0}
    thread = out["threads"]["main"]
    assert set(thread) == {"nodes"}
    assert thread["nodes"]["entrypoint"] == {"kind": "entrypoint", "edges": [{"to": "t"}]}
    assert thread["nodes"]["exit"] == {"kind": "exit", "edges": []}
    # retries 0 (no retries) is written; args, backoff, timeout, handlers... are not.
    assert thread["nodes"]["t"] == {"kind": "task", "task": "x", "retries": 0, "edges": [{"to": "exit"}]}


def test_unset_retries_are_omitted_and_read_back_as_unset() -> None:
    unset = TaskNode(task="x", edges=[Edge(to="exit")])
    spec = tiny_spec(threads={"main": ThreadSpec(nodes={
        "entrypoint": EntrypointNode(edges=[Edge(to="t")]), "t": unset, "exit": ExitNode(edges=[])})})
    out = json.loads(dumps(spec))
    assert out["threads"]["main"]["nodes"]["t"] == {"kind": "task", "task": "x", "edges": [{"to": "exit"}]}
    node = loads(dumps(spec)).threads["main"].nodes["t"]
    assert isinstance(node, TaskNode) and node.retries is None


def test_version_zero_revision_is_still_written() -> None:
    out = json.loads(dumps(tiny_spec(version=Version(major=3, revision=0))))
    assert out["version"] == {"major": 3, "revision": 0}


def test_non_default_values_are_written(doc: dict[str, Any]) -> None:
    out = json.loads(dumps(loads(json.dumps(doc))))
    variables = out["variables"]
    assert variables["order-id"] == {"type": "str", "required": True}
    task = out["threads"]["main"]["nodes"]["charge-card"]
    assert task["timeout"] == 30.0
    assert task["handlers"] == [{"on": "error", "thread": "on-error"}]
    assert out["threads"]["main"]["interrupts"] == [{"event": "cancel", "thread": "on-error"}]


def test_falsy_value_that_is_not_the_field_default_is_kept() -> None:
    """A variable's default is ``null`` when absent; ``0`` and ``""`` are real defaults."""
    spec = tiny_spec(
        variables={
            "n": VariableDef(type="int", default=0),
            "s": VariableDef(type="str", default=""),
            "none": VariableDef(type="json"),
        }
    )
    out = json.loads(dumps(spec))
    assert out["variables"] == {
        "n": {"type": "int", "default": 0},
        "s": {"type": "str", "default": ""},
        "none": {"type": "json"},
    }
    assert loads(dumps(spec)) == spec


def test_empty_hash_is_omitted_and_a_filled_hash_is_written() -> None:
    assert "hash" not in json.loads(dumps(tiny_spec()))
    hashed = with_hash(tiny_spec())
    assert json.loads(dumps(hashed))["hash"] == hashed.hash


# --- round trip -----------------------------------------------------------------------------------


def test_loads_of_dumps_is_identity(doc: dict[str, Any]) -> None:
    spec = loads(json.dumps(doc))
    again = loads(dumps(spec))
    assert again == spec
    assert dumps(again) == dumps(spec)


def test_loads_accepts_str_and_bytes(doc: dict[str, Any]) -> None:
    text = json.dumps(doc)
    assert loads(text) == loads(text.encode())


def test_loads_gives_typed_structs(doc: dict[str, Any]) -> None:
    spec = loads(json.dumps(doc))
    assert isinstance(spec, WorkflowSpec)
    assert spec.version == Version(major=1, revision=0)
    assert str(spec.version) == "1.0"
    node = spec.threads["main"].nodes["charge-card"]
    assert isinstance(node, TaskNode)
    assert node.retries == 3
    assert node.args == [VarRef(name="order-id"), VarRef(name="amount")]
    assert spec.variables["order-id"] == VariableDef(type="str", required=True)


def test_null_literal_round_trips() -> None:
    spec = tiny_spec(
        threads={
            "main": ThreadSpec(
                nodes={
                    "entrypoint": EntrypointNode(edges=[Edge(to="exit")]),
                    "exit": ExitNode(edges=[], output=LiteralExpr(value=None)),
                }
            )
        }
    )
    again = loads(dumps(spec))
    exit_node = again.threads["main"].nodes["exit"]
    assert isinstance(exit_node, ExitNode)
    assert exit_node.output == LiteralExpr(value=None)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        2**53 + 1,
        1.5,
        -0.0,
        1e-300,
        1e300,
        "",
        'a"b\\c\n\t\u2028é😀',
        True,
        False,
        [],
        {},
        [1, [2, {"a": None}]],
    ],
)
def test_literal_values_round_trip_exactly(value: Any) -> None:
    spec = tiny_spec(
        threads={
            "main": ThreadSpec(
                nodes={
                    "entrypoint": EntrypointNode(edges=[Edge(to="exit")]),
                    "exit": ExitNode(edges=[], output=LiteralExpr(value=value)),
                }
            )
        }
    )
    again = loads(dumps(spec))
    output = again.threads["main"].nodes["exit"].output  # type: ignore[union-attr]
    assert isinstance(output, LiteralExpr)
    assert output.value == value
    assert type(output.value) is type(value)
    assert dumps(again) == dumps(spec)


def test_from_builtins_matches_loads(doc: dict[str, Any]) -> None:
    spec = from_builtins(doc)
    validate(spec)
    assert spec == loads(json.dumps(doc))


def test_validate_accepts_a_valid_spec(doc: dict[str, Any]) -> None:
    assert validate(loads(json.dumps(doc))) is None


# --- hashes ---------------------------------------------------------------------------------------

HASH = re.compile(r"^sha256:[0-9a-f]{64}\Z")


def test_body_hash_format() -> None:
    assert HASH.match(body_hash(tiny_spec()))


def test_body_hash_is_the_sha256_of_the_canonical_body() -> None:
    import hashlib

    spec = tiny_spec(version=Version(major=4, revision=2), hash="sha256:" + "0" * 64)
    body = msgspec.structs.replace(spec, version=first_version(), hash="")
    assert body_hash(spec) == "sha256:" + hashlib.sha256(dumps(body)).hexdigest()
    assert body_hash(tiny_spec()) == "sha256:" + hashlib.sha256(TINY_DUMP).hexdigest()


def test_body_hash_ignores_version_and_hash() -> None:
    base = tiny_spec()
    assert body_hash(base) == body_hash(tiny_spec(version=Version(major=7, revision=3)))
    assert body_hash(base) == body_hash(tiny_spec(hash="sha256:" + "f" * 64))
    assert body_hash(base) == body_hash(with_hash(base))


@pytest.mark.parametrize(
    "change",
    [
        {"name": "w2"},
        {"variables": {"x": VariableDef(type="int")}},
        {"output": "str"},
        {
            "threads": {
                "main": ThreadSpec(
                    nodes={
                        "entrypoint": EntrypointNode(edges=[Edge(to="t")]),
                        "t": TaskNode(task="x", retries=1, edges=[Edge(to="exit")]),
                        "exit": ExitNode(edges=[]),
                    }
                )
            }
        },
    ],
    ids=["name", "variables", "output", "retries"],
)
def test_body_hash_changes_when_the_body_changes(change: dict[str, Any]) -> None:
    assert body_hash(tiny_spec(**change)) != body_hash(tiny_spec())


def test_with_hash_fills_in_the_hash_and_nothing_else() -> None:
    spec = tiny_spec(version=Version(major=2, revision=5))
    hashed = with_hash(spec)
    assert HASH.match(hashed.hash)
    assert hashed.hash == body_hash(spec)
    assert msgspec.structs.replace(hashed, hash="") == spec
    assert spec.hash == "", "the input is not changed"
    assert with_hash(hashed) == hashed, "idempotent"


def test_hashed_spec_round_trips() -> None:
    hashed = with_hash(tiny_spec())
    again = loads(dumps(hashed))
    assert again == hashed
    assert body_hash(again) == hashed.hash


# --- JSON Schema ----------------------------------------------------------------------------------


def node_tags() -> set[str]:
    members = typing.get_args(Node)
    return {m.__struct_config__.tag for m in members}


def test_node_union_has_every_documented_kind() -> None:
    assert node_tags() == {
        "entrypoint",
        "exit",
        "task",
        "wait_for_event",
        "sleep",
        "sleep_until",
        "spawn_thread",
        "spawn_thread_for_each",
        "wait_for_threads",
        "nop",
        "fail",
        "compensate",
        "user_task",
    }


def test_json_schema_is_json_and_describes_workflow_spec() -> None:
    schema = json_schema()
    assert isinstance(schema, dict)
    json.dumps(schema)  # serialisable as it is
    assert schema["$ref"] == "#/$defs/WorkflowSpec"
    top = schema["$defs"]["WorkflowSpec"]
    assert set(top["required"]) == {"name", "entrypoint", "threads", "schema", "version"}
    assert top["additionalProperties"] is False


def test_json_schema_mentions_every_node_kind_in_the_tagged_union() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    for tag in node_tags():
        assert f'"{tag}"' in text
    nodes = schema["$defs"]["ThreadSpec"]["properties"]["nodes"]["additionalProperties"]
    assert nodes["discriminator"]["propertyName"] == "kind"
    assert set(nodes["discriminator"]["mapping"]) == node_tags()
    assert len(nodes["anyOf"]) == len(node_tags())
    for ref in nodes["discriminator"]["mapping"].values():
        name = ref.rpartition("/")[2]
        definition = schema["$defs"][name]
        assert "kind" in definition["required"]
        assert "edges" in definition["required"]
        assert definition["additionalProperties"] is False


def test_json_schema_lets_task_retries_be_unset() -> None:
    task = json_schema()["$defs"]["TaskNode"]
    assert "retries" not in task["required"]
    assert task["properties"]["retries"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}


def test_json_schema_mentions_every_expression_kind() -> None:
    mapping = json_schema()["$defs"]["Edge"]["properties"]["when"]["anyOf"][0]["discriminator"]["mapping"]
    assert set(mapping) == {"literal", "var", "output", "binary", "unary", "call", "list"}


def test_valid_document_satisfies_the_schema_shape(doc: dict[str, Any]) -> None:
    """A light check without a JSON-Schema library: every property of every
    node in the document is a declared property of its kind's definition."""
    schema = json_schema()
    mapping = schema["$defs"]["ThreadSpec"]["properties"]["nodes"]["additionalProperties"]["discriminator"]["mapping"]
    for thread in doc["threads"].values():
        for node in thread["nodes"].values():
            definition = schema["$defs"][mapping[node["kind"]].rpartition("/")[2]]
            assert set(node) <= set(definition["properties"])
            assert set(definition["required"]) <= set(node)
