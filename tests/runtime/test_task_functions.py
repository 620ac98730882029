"""``@task`` functions: registration, context injection, running attempts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from wfc.runtime import TaskContext, TaskDefinitionError, TaskException, task
from wfc.runtime._tasks import run_task, task_definitions
from wfc.specs import Backoff

pytestmark = pytest.mark.anyio

CTX = TaskContext(run_id="r", workflow="w", task="t", node_id="n", thread=0, attempt=1, idempotency_key="r/0/n/1")


def test_the_decorator_keeps_the_function_callable_and_records_defaults() -> None:
    @task("charge-card", retries=3, timeout=30, backoff=0.5)
    def charge(amount: float) -> dict[str, float]:
        return {"charged": amount}

    assert charge(2.0) == {"charged": 2.0}
    definition = charge.definition
    assert (definition.name, definition.retries, definition.timeout) == ("charge-card", 3, 30.0)
    assert definition.backoff == Backoff(initial=0.5)
    assert definition.policy.retries == 3

    @task
    def send_receipt() -> None: ...

    assert send_receipt.definition.name == "send-receipt"


def test_bad_declarations_are_refused_with_the_task_name() -> None:
    with pytest.raises(TaskDefinitionError, match="'x': retries must be an int >= 0"):
        task("x", retries=-1)(lambda: None)
    with pytest.raises(TaskDefinitionError, match="timeout must be seconds > 0"):
        task("x", timeout=0)(lambda: None)
    # Timeouts obey the same duration limit as the spec's, or a due time
    # computed from them could pass the year 9999.
    with pytest.raises(TaskDefinitionError, match=r"timeout=1000000000000.0: a duration may be at most .*100 years"):
        task("x", timeout=1e12)(lambda: None)
    with pytest.raises(TaskDefinitionError, match="'x': timeout=nan: a duration must be a finite number"):
        task("x", timeout=float("nan"))(lambda: None)

    def plain() -> None: ...

    with pytest.raises(TaskDefinitionError, match="decorate it with @task"):
        task_definitions([plain])  # type: ignore[list-item]
    first = task("same")(lambda: 1)
    second = task("same")(lambda: 2)
    with pytest.raises(TaskDefinitionError, match="registered twice"):
        task_definitions([first, second])
    assert task_definitions([first, first]).keys() == {"same"}


async def test_async_tasks_get_their_context_injected() -> None:
    @task("t")
    async def with_context(a: int, ctx: TaskContext) -> list[object]:
        return [a, ctx.idempotency_key, ctx.attempt]

    outcome = await run_task(with_context.definition, [5], CTX, None)
    assert outcome.ok and outcome.output == [5, "r/0/n/1", 1]


async def test_string_annotations_are_recognised() -> None:
    def fn(ctx: TaskContext) -> str:
        return ctx.run_id

    fn.__annotations__["ctx"] = "TaskContext"
    outcome = await run_task(task("t")(fn).definition, [], CTX, None)
    assert outcome.output == "r"


async def test_sync_tasks_run_in_a_worker_thread() -> None:
    @task("t")
    def blocking() -> bool:
        return threading.current_thread() is not threading.main_thread()

    outcome = await run_task(blocking.definition, [], CTX, None)
    assert outcome.ok and outcome.output is True


async def test_timeouts_are_per_attempt_for_async_and_sync_tasks() -> None:
    @task("slow", timeout=0.05)
    async def slow_async() -> None:
        import anyio

        await anyio.sleep(5)

    @task("slow-sync")
    def slow_sync() -> None:
        time.sleep(0.5)

    outcome = await run_task(slow_async.definition, [], CTX, None)
    assert (outcome.ok, outcome.name) == (False, "TIMEOUT")
    assert "0.05 s" in outcome.message
    started = time.monotonic()
    outcome = await run_task(slow_sync.definition, [], CTX, 0.05)  # the spec's timeout
    assert outcome.name == "TIMEOUT"
    assert time.monotonic() - started < 0.4  # the engine does not wait for the abandoned thread


async def test_task_exception_is_a_business_failure_other_errors_are_technical() -> None:
    @task("t")
    def declined() -> None:
        raise TaskException("card-declined", "insufficient funds", {"code": 51})

    @task("t")
    def broken() -> None:
        raise ConnectionError("refused")

    outcome = await run_task(declined.definition, [], CTX, None)
    assert (outcome.business, outcome.name, outcome.message, outcome.content) == (
        True,
        "card-declined",
        "insufficient funds",
        {"code": 51},
    )
    outcome = await run_task(broken.definition, [], CTX, None)
    assert (outcome.business, outcome.name, outcome.message) == (False, "TASK_ERROR", "ConnectionError: refused")


async def test_outputs_must_be_json() -> None:
    @dataclass
    class Receipt:
        id: str

    @task("t")
    def returns_dataclass() -> Receipt:
        return Receipt("x")

    @task("t")
    def returns_object() -> object:
        return object()

    assert (await run_task(returns_dataclass.definition, [], CTX, None)).output == {"id": "x"}
    outcome = await run_task(returns_object.definition, [], CTX, None)
    assert outcome.name == "TASK_ERROR" and "returned a object, which is not JSON" in outcome.message


async def test_wrong_argument_counts_are_task_errors_naming_the_task() -> None:
    @task("needs-two")
    def two(a: int, b: int) -> int:
        return a + b

    outcome = await run_task(two.definition, [1], CTX, None)
    assert outcome.name == "TASK_ERROR"
    assert "task 'needs-two' cannot be called with the spec's 1 argument(s)" in outcome.message
