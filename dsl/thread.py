"""``WorkflowThread``: the builder a workflow function receives.

Each DSL call adds nodes to the current thread's graph. The calls are grouped
by concern, one module each, and ``WorkflowThread`` is made of those groups;
they share one :class:`~wfc.dsl.builder.GraphBuilder`, which holds the graph
and its open edge.
"""

from __future__ import annotations

from wfc.dsl.builder import GraphBuilder
from wfc.dsl.errors import DslError
from wfc.dsl.failures import FailureCalls
from wfc.dsl.flow import FlowCalls
from wfc.dsl.recording import RecordedThread, Recording
from wfc.dsl.source import caller_source
from wfc.dsl.tasks import TaskCalls
from wfc.dsl.threads import ThreadCalls
from wfc.dsl.user_tasks import UserTaskCalls
from wfc.dsl.variables import VariableCalls
from wfc.dsl.waits import WaitCalls


class WorkflowThread(VariableCalls, TaskCalls, FlowCalls, WaitCalls, UserTaskCalls, ThreadCalls, FailureCalls):
    """Records one thread of a workflow. A workflow function receives one:
    ``def checkout(wf: WorkflowThread) -> None``."""

    def __init__(self, recording: Recording, thread: RecordedThread) -> None:
        self._core = GraphBuilder(recording, thread, self)


def active_thread(recording: Recording, verb: str) -> WorkflowThread:
    """The builder currently taking DSL calls for ``recording``."""
    if recording.finished or not recording.active:
        raise DslError(
            f"{verb}() was called after workflow {recording.name!r} was recorded. DSL calls only "
            "work while the workflow function runs, i.e. inside Workflow(...).compile()",
            str(caller_source()),
        )
    builder: WorkflowThread = recording.active[-1]
    return builder
