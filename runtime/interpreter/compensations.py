"""The saga's records: which completed steps have a compensation to run.

A step (task node) with a compensation is recorded when it completes, with
the compensation's arguments evaluated then. Running them is :mod:`.saga`'s.
"""

from __future__ import annotations

from typing import Any

from wfc.runtime.interpreter.context import Scope, Step
from wfc.runtime.interpreter.expressions import ExpressionError, evaluate
from wfc.runtime.interpreter.secrets import MASK
from wfc.runtime.interpreter.state import CompensationRecord, TaskWait, ThreadRun
from wfc.specs import TaskNode


def register_compensation(step: Step, thread: ThreadRun, node_id: str, wait: TaskWait) -> ExpressionError | None:
    """Record a completed step's compensation, if its node has one; the
    arguments are evaluated now (the node's output is already set)."""
    node = step.node(thread, node_id)
    if not isinstance(node, TaskNode) or node.compensation is None:
        return None
    try:
        args = [evaluate(arg, Scope(step, thread)) for arg in node.compensation.args]
    except ExpressionError as exc:
        return exc
    step.state.compensations.append(
        CompensationRecord(
            thread=thread.number,
            node=node_id,
            task=node.compensation.task,
            args=args,
            retries=node.compensation.retries,
            completed_at=step.now,
            idempotency_key=wait.idempotency_key,
        )
    )
    return None


def compensable(step: Step) -> bool:
    """True when a step completed (or may still complete) that has a compensation."""
    if step.state.compensations:
        return True
    for thread in step.scan():
        if thread.status.active and isinstance(thread.wait, TaskWait):
            node = step.node(thread, thread.node)
            if isinstance(node, TaskNode) and node.compensation is not None:
                return True
    return False


def describe(record: CompensationRecord) -> dict[str, Any]:
    """A compensation for the journal."""
    return {"task": record.task, "node": record.node, "thread": record.thread}


def shown_args(step: Step, record: CompensationRecord) -> list[Any]:
    """A compensation's arguments for the journal, masked ones hidden."""
    thread = step.state.threads.get(record.thread)
    if thread is None:
        return record.args
    spec = step.spec.threads.get(thread.name)
    node = spec.nodes.get(record.node) if spec is not None else None
    if node is None:  # recorded on a version the run was moved from, without this node
        return [MASK] * len(record.args)
    exprs = node.compensation.args if isinstance(node, TaskNode) and node.compensation is not None else []
    return [
        step.info.show(thread.name, exprs[i] if i < len(exprs) else None, value) for i, value in enumerate(record.args)
    ]
