"""The durable runtime: runs compiled workflow specs crash-safely.

```python
from wfc.runtime import Engine, TaskContext, TaskException, task

@task("charge-card", retries=3, timeout=30)
async def charge_card(order_id: str, amount: float, ctx: TaskContext) -> dict: ...

async with Engine.open("sqlite:///wfc.db", tasks=[charge_card]) as engine:
    await engine.deploy(spec)
    run_id = await engine.start("checkout", {"order-id": "o1", "amount": 9.5}, run_id="order-o1")
    run = await engine.wait(run_id, timeout=30)
```

The interpreter (:mod:`wfc.runtime.interpreter`) is a pure state machine; the
:class:`Engine` commits each transition with its journal and outbox in one
transaction before acting on it. A :class:`Worker` serves a shared database.

The names are imported on first use (:pep:`562`): reading runs (``wfc runs
list``) loads the store and :mod:`~wfc.runtime._reader`, not the commit loop
and the interpreter behind :class:`Engine`.

Only the names in ``__all__`` (and the public subpackages and the
:mod:`wfc.runtime.errors` module) are the promise; modules and names with a
leading underscore are private.
"""

from typing import TYPE_CHECKING, Any

from wfc.specs._lazy import export, listing

if TYPE_CHECKING:
    from wfc.runtime._analytics import StepStats, WorkflowStats
    from wfc.runtime._engine import Engine
    from wfc.runtime._observe import Commit, Observer, RunLabels, TaskAttempt, task_attempts
    from wfc.runtime._records import HistoryEntry, RunInfo, RunKey, RunPage, SentEvent, Started, ThreadInfo, WorkerInfo
    from wfc.runtime._stuck import StuckReason
    from wfc.runtime._subscribe import FeedEntry, Subscription
    from wfc.runtime._tasks import TaskContext, TaskDefinition, TaskException, TaskFunction, task
    from wfc.runtime._user_tasks import UserTask
    from wfc.runtime._worker import Worker, WorkerStats
    from wfc.runtime.errors import (
        ConflictError,
        DeployConflictError,
        InputError,
        MissingTasksError,
        NewerDatabaseError,
        NewerRunStateError,
        NotAWfcDatabaseError,
        RunIdConflictError,
        RunInputsConflictError,
        RunStateError,
        StoreError,
        TaskDefinitionError,
        UnexpectedEventError,
        UnknownRunError,
        UnknownUserTaskError,
        UnknownWorkflowError,
        UnreadableRunError,
        UnsupportedUrlError,
        UsageError,
        UserTaskStateError,
        UserTaskValuesError,
        WaitTimeoutError,
    )
    from wfc.runtime.interpreter.state import Failure, RunStatus, ThreadStatus, UserTaskStatus
    from wfc.runtime.store.workload import Workload
    from wfc.specs.errors import WfcError

#: The module each public name is defined in.
_HOMES: dict[str, str] = {
    "Engine": "wfc.runtime._engine",
    "StepStats": "wfc.runtime._analytics",
    "WorkflowStats": "wfc.runtime._analytics",
    "WorkerInfo": "wfc.runtime._records",
    "Commit": "wfc.runtime._observe",
    "Observer": "wfc.runtime._observe",
    "RunLabels": "wfc.runtime._observe",
    "TaskAttempt": "wfc.runtime._observe",
    "task_attempts": "wfc.runtime._observe",
    "Started": "wfc.runtime._records",
    "StuckReason": "wfc.runtime._stuck",
    "Workload": "wfc.runtime.store.workload",
    "HistoryEntry": "wfc.runtime._records",
    "RunInfo": "wfc.runtime._records",
    "RunKey": "wfc.runtime._records",
    "RunPage": "wfc.runtime._records",
    "SentEvent": "wfc.runtime._records",
    "ThreadInfo": "wfc.runtime._records",
    "FeedEntry": "wfc.runtime._subscribe",
    "Subscription": "wfc.runtime._subscribe",
    "TaskContext": "wfc.runtime._tasks",
    "TaskDefinition": "wfc.runtime._tasks",
    "TaskException": "wfc.runtime._tasks",
    "TaskFunction": "wfc.runtime._tasks",
    "task": "wfc.runtime._tasks",
    "UserTask": "wfc.runtime._user_tasks",
    "Worker": "wfc.runtime._worker",
    "WorkerStats": "wfc.runtime._worker",
    "ConflictError": "wfc.runtime.errors",
    "DeployConflictError": "wfc.runtime.errors",
    "InputError": "wfc.runtime.errors",
    "MissingTasksError": "wfc.runtime.errors",
    "NewerDatabaseError": "wfc.runtime.errors",
    "NewerRunStateError": "wfc.runtime.errors",
    "NotAWfcDatabaseError": "wfc.runtime.errors",
    "RunIdConflictError": "wfc.runtime.errors",
    "RunInputsConflictError": "wfc.runtime.errors",
    "RunStateError": "wfc.runtime.errors",
    "StoreError": "wfc.runtime.errors",
    "TaskDefinitionError": "wfc.runtime.errors",
    "UnexpectedEventError": "wfc.runtime.errors",
    "UnknownRunError": "wfc.runtime.errors",
    "UnknownUserTaskError": "wfc.runtime.errors",
    "UnknownWorkflowError": "wfc.runtime.errors",
    "UnreadableRunError": "wfc.runtime.errors",
    "UnsupportedUrlError": "wfc.runtime.errors",
    "UsageError": "wfc.runtime.errors",
    "UserTaskStateError": "wfc.runtime.errors",
    "UserTaskValuesError": "wfc.runtime.errors",
    "WaitTimeoutError": "wfc.runtime.errors",
    "Failure": "wfc.runtime.interpreter.state",
    "RunStatus": "wfc.runtime.interpreter.state",
    "ThreadStatus": "wfc.runtime.interpreter.state",
    "UserTaskStatus": "wfc.runtime.interpreter.state",
    "WfcError": "wfc.specs.errors",
}


def __getattr__(name: str) -> Any:
    return export(__name__, _HOMES, globals(), name)


def __dir__() -> list[str]:
    return listing(globals())


__all__ = [
    "Commit",
    "ConflictError",
    "DeployConflictError",
    "Engine",
    "Failure",
    "FeedEntry",
    "HistoryEntry",
    "InputError",
    "MissingTasksError",
    "NewerDatabaseError",
    "NewerRunStateError",
    "NotAWfcDatabaseError",
    "Observer",
    "RunIdConflictError",
    "RunInfo",
    "RunInputsConflictError",
    "RunKey",
    "RunLabels",
    "RunPage",
    "RunStateError",
    "RunStatus",
    "SentEvent",
    "Started",
    "StepStats",
    "StoreError",
    "StuckReason",
    "Subscription",
    "TaskAttempt",
    "TaskContext",
    "TaskDefinition",
    "TaskDefinitionError",
    "TaskException",
    "TaskFunction",
    "ThreadInfo",
    "ThreadStatus",
    "UnexpectedEventError",
    "UnknownRunError",
    "UnknownUserTaskError",
    "UnknownWorkflowError",
    "UnreadableRunError",
    "UnsupportedUrlError",
    "UsageError",
    "UserTask",
    "UserTaskStateError",
    "UserTaskStatus",
    "UserTaskValuesError",
    "WaitTimeoutError",
    "WfcError",
    "Worker",
    "WorkerInfo",
    "WorkerStats",
    "WorkflowStats",
    "Workload",
    "task",
    "task_attempts",
]
