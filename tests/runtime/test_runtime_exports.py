"""The public names of wfc.runtime are a promise: pin them."""

from __future__ import annotations

import wfc.runtime
from wfc.specs import WfcError


def test_exported_names_are_pinned() -> None:
    assert sorted(wfc.runtime.__all__) == [
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
    for name in wfc.runtime.__all__:
        assert getattr(wfc.runtime, name) is not None


def test_every_runtime_error_is_a_wfc_error() -> None:
    errors = [getattr(wfc.runtime, n) for n in wfc.runtime.__all__ if n.endswith("Error")]
    assert all(issubclass(e, WfcError) for e in errors)
    assert wfc.runtime.WfcError is WfcError


def test_user_visible_conflicts_share_one_base() -> None:
    runtime = wfc.runtime
    for error in (
        runtime.RunIdConflictError,
        runtime.RunInputsConflictError,
        runtime.DeployConflictError,
        runtime.UserTaskStateError,
    ):
        assert issubclass(error, runtime.ConflictError)
    # The optimistic version check the engine retries is internal, not a user conflict.
    from wfc.runtime.errors import StaleRunError

    assert not issubclass(StaleRunError, runtime.ConflictError)


def test_run_status_is_a_str_enum() -> None:
    assert wfc.runtime.RunStatus("COMPLETED") == "COMPLETED"
    assert [s.value for s in wfc.runtime.RunStatus] == [
        "RUNNING",
        "HALTED",
        "COMPLETED",
        "FAILED",
        "COMPENSATED",
        "CANCELLED",
    ]
    assert wfc.runtime.RunStatus.COMPLETED.finished and not wfc.runtime.RunStatus.HALTED.finished


def test_the_runtime_never_imports_the_dsl_or_the_compiler() -> None:
    import subprocess
    import sys

    code = "import sys, wfc.runtime; print(sorted(m for m in sys.modules if m.startswith(('wfc.dsl', 'wfc.compiler'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
