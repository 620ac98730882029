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

Only the names in ``__all__`` (and the public subpackages and the
:mod:`wfc.runtime.errors` module) are the promise; modules and names with a
leading underscore are private.
"""

from wfc.runtime._analytics import StepStats, WorkflowStats
from wfc.runtime._engine import Engine
from wfc.runtime._observe import Commit, Observer, RunLabels, TaskAttempt, task_attempts
from wfc.runtime._records import HistoryEntry, RunInfo, RunKey, RunPage, SentEvent, ThreadInfo, WorkerInfo
from wfc.runtime._stuck import StuckReason
from wfc.runtime._subscribe import FeedEntry, Subscription
from wfc.runtime._tasks import TaskContext, TaskDefinition, TaskException, TaskFunction, task
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
    UnknownWorkflowError,
    UnsupportedUrlError,
    UsageError,
    WaitTimeoutError,
)
from wfc.runtime.interpreter.state import Failure, RunStatus, ThreadStatus
from wfc.runtime.store.workload import Workload
from wfc.specs.errors import WfcError

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
    "UnknownWorkflowError",
    "UnsupportedUrlError",
    "UsageError",
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
