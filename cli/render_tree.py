"""Drawing a spec as a rich tree for the terminal.

Each thread is walked from its ``entrypoint``. A straight run of nodes is
listed at one level; a node with several edges gets one child per edge (its
condition, or ``else``) holding that branch, and the walk carries on at the
branch's join, its immediate post-dominator. An edge back to a node on the
current path is a loop and shows as ``↻ node-id``; an edge to a node already
drawn elsewhere shows as ``→ node-id``. Failure handlers, spawned threads
and a user task's timers are drawn under their nodes.
"""

from __future__ import annotations

from rich.text import Text
from rich.tree import Tree

from wfc.cli.labels import edge_label, handler_text, node_summary, timer_text
from wfc.specs import Edge, ExitNode, Node, SpawnThreadForEachNode, SpawnThreadNode, UserTaskNode, WorkflowSpec


def to_tree(spec: WorkflowSpec, thread: str | None = None) -> Tree:
    """A tree of ``thread`` (default: the entrypoint thread, with every other
    thread under the node that uses it)."""
    root = Tree(Text.assemble((spec.name, "bold"), f" {spec.version}"))
    drawer = _Drawer(spec)
    drawer.thread(root, thread or spec.entrypoint)
    if thread is None:
        for name in spec.threads:
            drawer.thread(root, name, quiet=True)
    return root


def immediate_post_dominators(nodes: dict[str, Node]) -> dict[str, str | None]:
    """For each node that can reach an exit node, the nearest other node
    every path from it to an exit goes through (``None`` when there is none).

    Paths that end in ``fail`` or ``compensate`` are left out, so a branch
    that fails does not hide where the other branches join again.
    """
    exits = {node_id for node_id, node in nodes.items() if isinstance(node, ExitNode)}
    reaches = set(exits)
    changed = True
    while changed:
        found = {n for n, node in nodes.items() if n not in reaches and any(e.to in reaches for e in node.edges)}
        reaches |= found
        changed = bool(found)
    pdom = {n: ({n} if n in exits else set(reaches)) for n in reaches}
    changed = True
    while changed:
        changed = False
        for n in reaches - exits:
            successors = [pdom[e.to] for e in nodes[n].edges if e.to in reaches]
            new = {n} | set.intersection(*successors)
            if new != pdom[n]:
                pdom[n], changed = new, True
    return {n: max(pdom[n] - {n}, key=lambda d: len(pdom[d]), default=None) for n in reaches}


class _Drawer:
    """Draws threads, each once; a thread used again is referred to."""

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.shown: set[str] = set()
        self.stack: list[str] = []

    def thread(self, parent: Tree, name: str, prefix: str = "", quiet: bool = False) -> None:
        """Add thread ``name`` under ``parent``; ``quiet`` skips a thread
        already shown instead of referring to it."""
        title = f"{prefix}thread {name}"
        if name in self.stack:
            parent.add(Text(f"{prefix}↻ thread {name}", style="magenta"))
            return
        if name in self.shown:
            if not quiet:
                parent.add(Text(f"{title} (shown above)", style="magenta"))
            return
        self.shown.add(name)
        self.stack.append(name)
        branch = parent.add(Text(title, style="bold magenta"))
        for interrupt in self.spec.threads[name].interrupts:
            self.thread(branch, interrupt.thread, prefix=f"on event {interrupt.event} → ")
        _ThreadWalk(self, name).chain(branch, "entrypoint", stop=None)
        self.stack.pop()


class _ThreadWalk:
    """Walks the nodes of one thread."""

    def __init__(self, drawer: _Drawer, thread: str) -> None:
        self.drawer = drawer
        self.nodes = drawer.spec.threads[thread].nodes
        self.joins = immediate_post_dominators(self.nodes)
        self.drawn: set[str] = set()
        self.on_path: set[str] = set()

    def chain(self, parent: Tree, start: str, stop: str | None) -> None:
        """Draw the run of nodes from ``start`` up to, not including, ``stop``."""
        current: str | None = start
        here: list[str] = []
        while current is not None and current != stop:
            if current in self.on_path:
                parent.add(Text(f"↻ {current}", style="yellow"))
                break
            if current in self.drawn:
                parent.add(Text(f"→ {current}", style="yellow"))
                break
            self.drawn.add(current)
            self.on_path.add(current)
            here.append(current)
            current = self.node(parent, current)
        self.on_path.difference_update(here)

    def node(self, parent: Tree, node_id: str) -> str | None:
        """Draw one node and its branches; return where the run continues."""
        node = self.nodes[node_id]
        item = parent.add(_node_text(node_id, node))
        if isinstance(node, UserTaskNode):
            for timer in node.timers:
                item.add(Text(timer_text(timer), style="blue"))
        for handler in node.handlers:
            self.drawer.thread(item, handler.thread, prefix=f"{handler_text(handler)} → ")
        if isinstance(node, SpawnThreadNode | SpawnThreadForEachNode):
            self.drawer.thread(item, node.thread, prefix="spawns ")
        if len(node.edges) == 1:
            text = _edge_text(node, node.edges[0])
            if text:
                item.add(Text(text, style="green"))
            return node.edges[0].to
        join = self.joins.get(node_id)
        for edge in node.edges:
            text = _edge_text(node, edge)
            if edge.to == join:
                item.add(Text(f"{text} → {join}", style="green"))
            else:
                self.chain(item.add(Text(text, style="green")), edge.to, stop=join)
        return join


def _node_text(node_id: str, node: Node) -> Text:
    text = Text(node_id, style="bold")
    summary = node_summary(node)
    if summary != node_id:
        text.append(f"  {summary}", style="cyan")
    return text


def _edge_text(node: Node, edge: Edge) -> str:
    """``if <condition>`` or ``else``, then the mutations, on one line."""
    lines = edge_label(node, edge).splitlines()
    if edge.when is not None:
        lines[0] = f"if {lines[0]}"
    return "; ".join(lines)
