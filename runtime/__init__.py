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
transaction before acting on it.
"""

from wfc.runtime.engine import Engine
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
from wfc.runtime.records import HistoryEntry, RunInfo, SentEvent, ThreadInfo
from wfc.runtime.state import Failure, RunStatus, ThreadStatus
from wfc.runtime.tasks import TaskContext, TaskDefinition, TaskException, TaskFunction, task
from wfc.specs.errors import WfcError

__all__ = [
    "ConflictError",
    "DeployConflictError",
    "Engine",
    "Failure",
    "HistoryEntry",
    "InputError",
    "MissingTasksError",
    "NewerDatabaseError",
    "NewerRunStateError",
    "NotAWfcDatabaseError",
    "RunIdConflictError",
    "RunInfo",
    "RunInputsConflictError",
    "RunStateError",
    "RunStatus",
    "SentEvent",
    "StoreError",
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
    "task",
]
