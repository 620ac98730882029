"""Tasks and sagas: ``wf.execute``, the compensation a task registers with
``compensate_with``, and ``wf.compensate``."""

from __future__ import annotations

import math

from wfc.dsl.builder import CallGroup
from wfc.dsl.checks import check_stored_name, positive_seconds
from wfc.dsl.errors import DslError
from wfc.dsl.handles import NodeOutput
from wfc.dsl.source import Source
from wfc.specs import MAX_DURATION_SECONDS, MAX_INT, Backoff, CompensateNode, TaskNode, duration_problem


class TaskCalls(CallGroup):
    """The calls of ``WorkflowThread`` that run tasks and undo them."""

    def execute(
        self,
        task_name: str,
        *args: object,
        retries: int | None = None,
        backoff: Backoff | None = None,
        timeout: float | None = None,
    ) -> NodeOutput:
        """Run a task; returns a handle to its output.

        Args:
            task_name: The name a ``@task`` registers, e.g. ``"charge-card"``.
            *args: Positional arguments: handles or JSON values.
            retries: Attempts after the first for technical errors; ``0``
                turns retries off. Unset, the task's ``@task(retries=...)``
                default applies, else none.
            backoff: Delays between attempts; exponential by default.
            timeout: Seconds one attempt may take.
        """
        core = self._core
        source = core.check_active("execute")
        if not isinstance(task_name, str) or not task_name.strip():
            raise DslError(
                f"a task name is a non-empty string, got {task_name!r}: wf.execute(\"charge-card\", ...)", str(source)
            )
        if retries is not None:
            _check_retries(retries, source, ': wf.execute("charge-card", retries=3)')
        if backoff is not None and not _valid_backoff(backoff):
            raise DslError(
                f"backoff must be Backoff(initial=, multiplier=, maximum=) with finite numbers, initial > 0, "
                f"multiplier >= 1 and initial <= maximum <= {MAX_DURATION_SECONDS} s (100 years); got {backoff!r}",
                str(source),
            )
        check_stored_name(task_name, "task name", source)
        fields = {"task": task_name, "args": [core.expr(a) for a in args], "retries": retries,
                  "backoff": backoff, "timeout": positive_seconds(timeout, "timeout", source)}
        return NodeOutput(core.add_node(task_name, TaskNode, fields, source), core.recording)

    def register_compensation(self, output: NodeOutput, task_name: str, args: tuple[object, ...], retries: int) -> None:
        """Record ``output.compensate_with(...)``; see :meth:`NodeOutput.compensate_with`."""
        core = self._core
        source = core.check_active("compensate_with")
        if not isinstance(task_name, str) or not task_name.strip():
            raise DslError(f"a compensation task name is a non-empty string, got {task_name!r}", str(source))
        check_stored_name(task_name, "compensation task name", source)
        _check_retries(retries, source, "")
        node = output.node
        if node.kind is not TaskNode:
            core.recording.compensations_on_non_tasks.append((node, source))
            return
        if node.compensation is not None:
            first, _, _, first_source = node.compensation
            core.problem(f"node {node.id!r} already has a compensation, {first!r} (at {first_source}); a step "
                         "has one undo task: do several things inside that task", source)
            return
        node.compensation = (task_name, [core.expr(a) for a in args], retries, source)

    def compensate(self) -> None:
        """Run the compensations of every completed step now, in reverse
        order, and end the run as COMPENSATED."""
        core = self._core
        source = core.check_active("compensate")
        core.add_node("compensate", CompensateNode, {}, source)


def _valid_backoff(backoff: object) -> bool:
    if not isinstance(backoff, Backoff):
        return False
    values = (backoff.initial, backoff.multiplier, backoff.maximum)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return False
    within = duration_problem(backoff.maximum) is None  # initial <= maximum, so it is within too
    return backoff.initial > 0 and backoff.multiplier >= 1 and backoff.maximum >= backoff.initial and within


def _check_retries(retries: object, source: Source, example: str) -> None:
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_INT:
        raise DslError(f"retries must be an int from 0 to {MAX_INT}, got {retries!r}{example}", str(source))
