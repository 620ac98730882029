"""Public errors survive pickling (a process pool, a multiprocessing queue)
with their message and structured attributes."""

from __future__ import annotations

import inspect
import pickle

import pytest

import wfc.runtime
import wfc.runtime.errors as errors
from wfc.runtime import TaskException
from wfc.specs import SpecError, WfcError

URL = "postgresql://app:secret@db:5432/orders"

SAMPLES: list[BaseException] = [
    WfcError("plain message"),
    SpecError("unknown node 'x'", "$.threads.main.nodes.a.edges[0].to"),
    TaskException("card-declined", "the card was declined", {"code": 51}),
    TaskException("no-message"),
    errors.UsageError("the engine is closed"),
    errors.UnsupportedUrlError(URL, ["sqlite://", "postgresql://"]),
    errors.StoreError(URL, "it is not a wfc database"),
    errors.NotAWfcDatabaseError("/tmp/x.db", "not a wfc database"),
    errors.NewerDatabaseError("/tmp/x.db", 9, 7),
    errors.NewerRunStateError("/tmp/x.db", "order-1", 3, 1),
    errors.UnreadableRunError("/tmp/x.db", "order-1", "its stored state is not what wfc writes"),
    errors.ReadOnlyDatabaseError("/tmp/x.db", "read-only file"),
    errors.DatabaseLockedError("/tmp/x.db", "locked", 5.0),
    errors.CorruptDatabaseError("/tmp/x.db", "malformed"),
    errors.MissingTablesError("/tmp/x.db", "tables are gone", ["runs", "journal"]),
    errors.DatabaseUrlError(URL, "bad port"),
    errors.DatabaseUnreachableError(URL, "no such host"),
    errors.DatabaseUnavailableError(URL, "could not commit: the connection was lost"),
    errors.StaleRunError(["r1", "r2"]),
    errors.ConflictError("conflict"),
    errors.UnknownWorkflowError("checkout", "1.2", ["1.0", "1.1"]),
    errors.UnknownWorkflowError("checkout"),
    errors.DeployConflictError("checkout", "1.0"),
    errors.MissingTasksError("checkout", ["ship", "charge"]),
    errors.InputError("checkout", [("amount", "expected float, got str"), ("order", "missing")]),
    errors.UnknownRunError("order-1"),
    errors.RunStateError("order-1", "COMPLETED", "cancel", "it already finished"),
    errors.RunIdConflictError("order-1", "checkout", "refund"),
    errors.RunInputsConflictError("order-1", "checkout", ["card", "amount"], ["card"]),
    errors.UnexpectedEventError("order-1", "checkout", "paid", ["payment-confirmed"]),
    errors.WaitTimeoutError("order-1", 2.5),
    errors.TaskDefinitionError("charge-card", "timeout must be positive"),
    errors.UnknownUserTaskError("ut-0123"),
    errors.UserTaskStateError("ut-0123", "DONE", "complete", "it was completed already"),
    errors.UserTaskStateError("ut-0123", "ASSIGNED", "claim"),
    errors.UserTaskValuesError("ut-0123", "update-card", [("card_token", "required (str)"), ("x", "not a field")]),
]


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_an_error_survives_pickling_with_its_attributes(error: BaseException) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.args == error.args
    assert vars(copy) == vars(error)


def test_structured_attributes_are_kept_not_rebuilt_from_the_message() -> None:
    copy = pickle.loads(pickle.dumps(errors.RunInputsConflictError("o1", "checkout", ["card", "n"], ["card"])))
    assert (copy.run_id, copy.workflow, copy.differing, copy.masked) == ("o1", "checkout", ("card", "n"), ("card",))
    secret = pickle.loads(pickle.dumps(errors.StoreError(URL, "down")))
    assert secret.location == "postgresql://app:***@db:5432/orders" and "secret" not in str(secret)
    timeout = pickle.loads(pickle.dumps(errors.WaitTimeoutError("o1", 2.5)))
    assert isinstance(timeout, TimeoutError) and timeout.timeout == 2.5


def test_every_public_error_class_has_a_sample() -> None:
    """A new error class must be added to SAMPLES, so its pickling is tested."""
    classes = {obj for _, obj in inspect.getmembers(errors, inspect.isclass) if issubclass(obj, BaseException)}
    classes |= {getattr(wfc.runtime, name) for name in wfc.runtime.__all__}
    classes = {cls for cls in classes if isinstance(cls, type) and issubclass(cls, BaseException)}
    assert classes - {type(sample) for sample in SAMPLES} == set()
