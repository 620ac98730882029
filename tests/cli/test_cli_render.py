"""Labels, escaping and the tree layout, without the CLI."""

from __future__ import annotations

import pytest
from rich.console import Console

from wfc.cli.labels import mutation_text, node_summary
from wfc.cli.render_graph import dot_text, mermaid_text
from wfc.cli.render_tree import immediate_post_dominators, to_tree
from wfc.specs import (
    Edge,
    EntrypointNode,
    ExitNode,
    FailNode,
    LiteralExpr,
    Mutation,
    MutationOp,
    Node,
    NopNode,
    SleepNode,
    VarRef,
    WaitForEventNode,
    WorkflowSpec,
)


@pytest.mark.parametrize(
    ("op", "text"),
    [
        ("assign", "`order-id` = 1"),
        ("add", "`order-id` += 1"),
        ("subtract", "`order-id` -= 1"),
        ("multiply", "`order-id` *= 1"),
        ("divide", "`order-id` /= 1"),
        ("append", "`order-id`.append(1)"),
        ("extend", "`order-id`.extend(1)"),
        ("remove", "`order-id`.remove(1)"),
        ("remove_key", "del `order-id`[1]"),
    ],
)
def test_mutation_text(op: MutationOp, text: str) -> None:
    assert mutation_text(Mutation(var="order-id", op=op, value=LiteralExpr(value=1))) == text


def test_node_summaries() -> None:
    assert node_summary(WaitForEventNode(event="paid", timeout=60, edges=[])) == "wait_for_event paid (timeout 60s)"
    assert node_summary(SleepNode(seconds=VarRef(name="delay"), edges=[])) == "sleep delay seconds"
    assert node_summary(FailNode(failure="out-of-stock", edges=[])) == "fail out-of-stock"
    assert node_summary(ExitNode(output=VarRef(name="total"), edges=[])) == "exit with total"


def test_mermaid_text() -> None:
    assert (
        mermaid_text('a "b" <c> #d | `e` & f\ng') == '"a #quot;b#quot; #lt;c#gt; #35;d #124; #96;e#96; #amp; f<br/>g"'
    )


def test_dot_text() -> None:
    assert dot_text('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def _graph(edges: dict[str, list[str]]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for node_id, targets in edges.items():
        if node_id == "exit":
            nodes[node_id] = ExitNode(edges=[])
        elif node_id.startswith("fail"):
            nodes[node_id] = FailNode(failure="x", edges=[])
        else:
            nodes[node_id] = NopNode(edges=[Edge(to=target) for target in targets])
    return nodes


def test_post_dominators_of_a_diamond_and_a_loop() -> None:
    nodes = _graph(
        {
            "entrypoint": ["if"],
            "if": ["a", "b"],
            "a": ["join"],
            "b": ["join"],
            "join": ["loop"],
            "loop": ["body", "exit"],
            "body": ["loop"],
            "exit": [],
        }
    )
    joins = immediate_post_dominators(nodes)
    assert joins["if"] == "join"
    assert joins["a"] == "join"
    assert joins["loop"] == "exit"
    assert joins["body"] == "loop"
    assert joins["exit"] is None


def test_post_dominators_ignore_failing_branches() -> None:
    nodes = _graph({"entrypoint": ["if"], "if": ["fail", "join"], "fail": [], "join": ["exit"], "exit": []})
    joins = immediate_post_dominators(nodes)
    assert joins["if"] == "join"
    assert "fail" not in joins


def test_tree_of_a_thread_that_uses_itself() -> None:
    from wfc.specs import SpawnThreadNode, ThreadSpec, Version

    nodes: dict[str, Node] = {
        "entrypoint": EntrypointNode(edges=[Edge(to="again")]),
        "again": SpawnThreadNode(thread="main", edges=[Edge(to="exit")]),
        "exit": ExitNode(edges=[]),
    }
    spec = WorkflowSpec(
        name="w",
        entrypoint="main",
        threads={"main": ThreadSpec(nodes=nodes)},
        schema="wfc/1",
        version=Version(major=1, revision=0),
    )
    console = Console(width=100, record=True)
    console.print(to_tree(spec))
    assert "spawns ↻ thread main" in console.export_text()
