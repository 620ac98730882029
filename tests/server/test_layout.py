"""The server's layered layout of spec threads: every node drawn once, no two
boxes overlapping, forward edges running downward from the bottom of their
source to the top of their target, and loops marked as going back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from wfc.dsl import Workflow, WorkflowThread
from wfc.server._layout import Layout, layout_thread
from wfc.specs import WorkflowSpec, loads

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"


def branching(width: int, depth: int) -> WorkflowSpec:
    """``depth`` rounds of an if/elif/else with ``width`` tasks per branch:
    about ``3 * width * depth`` nodes, joined after every round."""

    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_int("amount").required()
        for level in range(depth):
            def branch(name: str, level: int = level) -> Callable[[WorkflowThread], None]:
                def body(t: WorkflowThread) -> None:
                    for step in range(width):
                        t.execute(f"{name}-{level}-{step}", amount)
                return body
            wf.do_if(amount > level, branch("high")).do_elif(amount < -level, branch("low")).do_else(branch("mid"))

    return Workflow("wide", flow).compile()


def check(layout: Layout) -> None:
    boxes = {box.id: box for box in layout.nodes}
    assert len(boxes) == len(layout.nodes)
    ordered = sorted(layout.nodes, key=lambda b: (b.y, b.x))
    for a, b in itertools.pairwise(ordered):
        if a.y == b.y:
            assert a.x + a.width <= b.x, f"{a.id} overlaps {b.id}"
    for box in layout.nodes:
        assert box.x >= 0 and box.x + box.width <= layout.width
        assert box.y >= 0 and box.y + box.height <= layout.height
    for line in layout.edges:
        source, target = boxes[line.source], boxes[line.target]
        if line.source == line.target:
            continue
        (x0, y0), (x1, y1) = line.points[0], line.points[-1]
        if line.back:
            assert target.y <= source.y, f"{line.source}->{line.target} is marked back but goes down"
        else:
            assert y0 == source.y + source.height and y1 == target.y, f"{line.source}->{line.target} is not downward"
            assert source.x <= x0 <= source.x + source.width and target.x <= x1 <= target.x + target.width
            assert all(p[1] <= q[1] for p, q in zip(line.points, line.points[1:], strict=False))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_thread_of_the_examples_lays_out(path: Path) -> None:
    spec = loads(path.read_bytes())
    for name, thread in spec.threads.items():
        layout = layout_thread(name, thread)
        assert {box.id for box in layout.nodes} == set(thread.nodes)
        assert len(layout.edges) == len({(a, e.to) for a, n in thread.nodes.items() for e in n.edges})
        check(layout)


def test_a_500_node_spec_is_laid_out_in_layers_without_overlaps() -> None:
    spec = branching(width=6, depth=28)
    thread = spec.threads[spec.entrypoint]
    assert len(thread.nodes) >= 500
    layout = layout_thread(spec.entrypoint, thread)
    check(layout)
    # Branches sit side by side: the drawing is far taller than wide, not one long column.
    columns = {box.x for box in layout.nodes}
    assert len(columns) >= 3


def test_a_chain_is_drawn_as_one_straight_column() -> None:
    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_int("amount").required()
        for name in ("a", "a-much-longer-task-name", "mid", "x" * 30):
            wf.execute(name, amount)

    spec = Workflow("chain", flow).compile()
    thread = spec.threads[spec.entrypoint]
    layout = layout_thread(spec.entrypoint, thread)
    centres = {round(box.x + box.width / 2) for box in layout.nodes}
    assert len(centres) == 1


def test_a_loop_is_drawn_as_an_edge_going_back_up() -> None:
    def flow(wf: WorkflowThread) -> None:
        count = wf.declare_int("count").default(0)
        wf.do_while(count < 3, lambda t: (t.execute("tick", count), count.assign(count + 1)))
        wf.execute("after", count)

    spec = Workflow("loop", flow).compile()
    thread = spec.threads[spec.entrypoint]
    layout = layout_thread(spec.entrypoint, thread)
    check(layout)
    assert [line for line in layout.edges if line.back], "the loop's edge back to its condition is not marked"
