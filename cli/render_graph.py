"""Drawing a spec as a Mermaid flowchart or a Graphviz dot graph.

Both formats show one box per thread, one node per spec node (labelled with
its id, kind and task or event), edges labelled with their condition and
mutations, and dashed links from nodes to the threads they spawn or hand
failures to. Every label is escaped for its format.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from wfc.cli.labels import edge_label, handler_text, node_label
from wfc.specs import (
    CompensateNode,
    EntrypointNode,
    ExitNode,
    FailNode,
    Node,
    NopNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    UserTaskNode,
    WorkflowSpec,
)

#: A dashed link between threads: (thread, node id or None for the thread
#: itself, target thread, label).
_Link = tuple[str, str | None, str, str]


def thread_links(spec: WorkflowSpec, threads: list[str]) -> Iterator[_Link]:
    """Spawns, failure handlers and interrupts among ``threads``."""
    for thread in threads:
        for node_id, node in spec.threads[thread].nodes.items():
            if isinstance(node, SpawnThreadNode | SpawnThreadForEachNode):
                yield thread, node_id, node.thread, "spawns"
            for handler in node.handlers:
                yield thread, node_id, handler.thread, handler_text(handler)
        for interrupt in spec.threads[thread].interrupts:
            yield thread, None, interrupt.thread, f"interrupt {interrupt.event}"


# --- mermaid -------------------------------------------------------------------

_MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "|": "#124;", "`": "#96;"}


def mermaid_text(label: str) -> str:
    """A label as a quoted Mermaid string: special characters as entity
    codes, lines joined with ``<br/>``."""
    escaped = "".join(_MERMAID_ESCAPES.get(char, char) for char in label)
    return '"' + escaped.replace("\n", "<br/>") + '"'


def _mermaid_shape(node: Node, text: str) -> str:
    match node:
        case EntrypointNode() | ExitNode() | FailNode() | CompensateNode():
            return f"([{text}])"
        case NopNode():
            return f"{{{{{text}}}}}"
        case SpawnThreadNode() | SpawnThreadForEachNode():
            return f"[[{text}]]"
        case UserTaskNode():  # a person's work: a parallelogram, like a manual step in a flowchart
            return f"[/{text}/]"
    return f"[{text}]"


class _Ids:
    """Mermaid-safe identifiers: letters, digits and ``_``, unique."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str | None], str] = {}

    def __call__(self, thread: str, node: str | None = None) -> str:
        key = (thread, node)
        if key not in self._ids:
            base = re.sub(r"\W", "_", f"t_{thread}" if node is None else f"{thread}__{node}", flags=re.ASCII)
            candidate, number = base, 2
            while candidate in self._ids.values():
                candidate, number = f"{base}_{number}", number + 1
            self._ids[key] = candidate
        return self._ids[key]


def to_mermaid(spec: WorkflowSpec, threads: list[str]) -> str:
    """A Mermaid ``flowchart TD`` of the given threads of ``spec``."""
    ids = _Ids()
    lines = ["flowchart TD"]
    for thread in threads:
        lines.extend(_mermaid_thread(spec, thread, ids))
    for source, node_id, target, label in thread_links(spec, threads):
        if target in threads:
            lines.append(f"    {ids(source, node_id)} -.->|{mermaid_text(label)}| {ids(target)}")
    return "\n".join(lines) + "\n"


def _mermaid_thread(spec: WorkflowSpec, thread: str, ids: _Ids) -> Iterator[str]:
    yield f"    subgraph {ids(thread)} [{mermaid_text('thread ' + thread)}]"
    nodes = spec.threads[thread].nodes
    for node_id, node in nodes.items():
        yield f"        {ids(thread, node_id)}{_mermaid_shape(node, mermaid_text(node_label(node_id, node)))}"
    for node_id, node in nodes.items():
        for edge in node.edges:
            label = edge_label(node, edge)
            arrow = f"-->|{mermaid_text(label)}|" if label else "-->"
            yield f"        {ids(thread, node_id)} {arrow} {ids(thread, edge.to)}"
    yield "    end"


# --- graphviz dot -----------------------------------------------------------------


def dot_text(text: str) -> str:
    """A quoted dot string: backslashes and quotes escaped, newlines as ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _dot_shape(node: Node) -> str:
    match node:
        case EntrypointNode() | ExitNode() | FailNode() | CompensateNode():
            return "oval"
        case NopNode():
            return "diamond"
        case UserTaskNode():
            return "parallelogram"
    return "box"


def _dot_id(thread: str, node: str) -> str:
    return dot_text(f"{thread}/{node}")


def to_dot(spec: WorkflowSpec, threads: list[str]) -> str:
    """A Graphviz ``digraph`` of the given threads of ``spec``."""
    lines = [f"digraph {dot_text(spec.name)} {{", "    compound=true;", "    node [shape=box];"]
    for thread in threads:
        lines.extend(_dot_thread(spec, thread))
    for source, node_id, target, label in thread_links(spec, threads):
        if target in threads:
            # Graphviz links clusters through nodes: entrypoint to entrypoint,
            # clipped at the cluster borders by lhead and ltail.
            attributes = f"label={dot_text(label)}, style=dashed, lhead={dot_text('cluster_' + target)}"
            if node_id is None:
                attributes += f", ltail={dot_text('cluster_' + source)}"
            start = _dot_id(source, node_id or "entrypoint")
            lines.append(f"    {start} -> {_dot_id(target, 'entrypoint')} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_thread(spec: WorkflowSpec, thread: str) -> Iterator[str]:
    yield f"    subgraph {dot_text('cluster_' + thread)} {{"
    yield f"        label={dot_text('thread ' + thread)};"
    nodes = spec.threads[thread].nodes
    for node_id, node in nodes.items():
        attributes = f"label={dot_text(node_label(node_id, node))}, shape={_dot_shape(node)}"
        yield f"        {_dot_id(thread, node_id)} [{attributes}];"
    for node_id, node in nodes.items():
        for edge in node.edges:
            label = edge_label(node, edge)
            attributes = f" [label={dot_text(label)}]" if label else ""
            yield f"        {_dot_id(thread, node_id)} -> {_dot_id(thread, edge.to)}{attributes};"
    yield "    }"
