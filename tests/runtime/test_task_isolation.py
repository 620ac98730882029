"""User code can never take the engine down (issue 8, item 1), on both stores.

Whatever a task does becomes the recorded failure of that one attempt, and
the engine goes on serving other runs: exceptions that cannot print
themselves, ``TaskException`` parts that cannot be stored, ``SystemExit``,
``KeyboardInterrupt`` and other ``BaseException``, outputs that are too big
or not storable JSON, sync tasks hanging past their timeout. A run whose
transition the database refuses (or that cannot be encoded) is set aside:
FAILED with ``RUN_SET_ASIDE``, the reason in its journal, its batch and the
other runs untouched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest
from rtdb import Db
from rtrefuse import MARKER, refuse_marker_in_runs
from rtspec import edge, exit_, lit, mut, out, sleep, spec, task, variable, wait

import wfc.runtime._attempts as attempts
from wfc.runtime import Engine, RunInfo, RunStateError, RunStatus, TaskContext, TaskException
from wfc.runtime import task as wfc_task
from wfc.runtime._tasks import MESSAGE_LIMIT, OUTPUT_LIMIT, TaskOutcome, run_task
from wfc.runtime._turn import refused_data
from wfc.runtime.errors import ConflictError

pytestmark = pytest.mark.anyio


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ is broken")


class Odd(BaseException):
    """A BaseException that is neither an Exception nor a cancellation."""


RAISED: dict[str, Callable[[], BaseException]] = {
    "system-exit": lambda: SystemExit(3),
    "keyboard-interrupt": lambda: KeyboardInterrupt(),
    "odd-base-exception": lambda: Odd("odd"),
    "unprintable": lambda: Unprintable(),
}


@wfc_task("raise-sync")
def raise_sync(kind: str) -> None:
    raise RAISED[kind]()


@wfc_task("raise-async")
async def raise_async(kind: str) -> None:
    await anyio.lowlevel.checkpoint()
    raise RAISED[kind]()


def _bad_name() -> TaskException:
    exc = TaskException("declined", "no")
    exc.name = 42  # type: ignore[assignment]
    return exc


def _bad_message() -> TaskException:
    exc = TaskException("declined", "no")
    exc.message = {"not": "text"}  # type: ignore[assignment]
    return exc


BUSINESS: dict[str, Callable[[], TaskException]] = {
    "object-content": lambda: TaskException("declined", "no", object()),
    "nan-content": lambda: TaskException("declined", "no", {"score": float("nan")}),
    "huge-content": lambda: TaskException("declined", "no", "x" * (OUTPUT_LIMIT + 1)),
    "name-not-str": _bad_name,
    "message-not-str": _bad_message,
}


@wfc_task("business")
def business(kind: str) -> None:
    raise BUSINESS[kind]()


OUTPUTS: dict[str, Any] = {
    "huge": "x" * (OUTPUT_LIMIT + 1),
    "nan": {"a": [1, float("nan")]},
    "infinity": {"a": float("inf")},
    "lone-surrogate": {"a": "\ud800"},
    "int-past-64-bits": {"a": 2**64},
    "object": {"a": object()},
}


@wfc_task("returns")
def returns(kind: str) -> Any:
    return OUTPUTS[kind]


class Name(str):
    """A str subclass, as a name type in user code is."""


class Cents(int):
    pass


@dataclasses.dataclass
class Point:
    x: int
    y: int


#: Outputs with a JSON form msgspec gives them, and that form.
CONVERTED: dict[str, tuple[Any, Any]] = {
    "tuple": ((1, (2, "b")), [1, [2, "b"]]),
    "tuple-in-dict": ({"a": (1, 2)}, {"a": [1, 2]}),
    "str-subclass": ({"n": Name("ana")}, {"n": "ana"}),
    "int-subclass": (Cents(250), 250),
    "set": ({"s": {3}}, {"s": [3]}),
    "bytes": (b"\x00\xff", "AP8="),
    "date": (dt.date(2026, 12, 6), "2026-12-06"),
    "dataclass": (Point(1, 2), {"x": 1, "y": 2}),
}


@wfc_task("converts")
def converts(kind: str) -> Any:
    return CONVERTED[kind][0]


hanging_threads: list[threading.Thread] = []


@wfc_task("hangs", timeout=0.2)
def hangs() -> None:
    hanging_threads.append(threading.current_thread())
    time.sleep(30)


@wfc_task("marks")
def marks() -> str:
    return MARKER


class Gate:
    """Holds task attempts until ``expected`` of them arrived, then lets them
    all finish at once: their results reach the commit loop in one batch."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.arrived = 0
        self.opened = anyio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        if self.arrived >= self.expected:
            self.opened.set()
        await self.opened.wait()


GATES: list[Gate] = []


@wfc_task("gated")
async def gated(kind: str) -> str:
    await GATES[-1].wait()
    return MARKER if kind == "poison" else "fine"


@wfc_task("echo")
async def echo(value: Any) -> Any:
    return value


TASKS = [raise_sync, raise_async, business, returns, converts, hangs, marks, gated, echo]


def one_task(name: str, *args: Any) -> Any:
    return spec(f"call-{name}", [("t", task(name, *args)), ("end", exit_(out("t")))])


HEALTHY = spec("healthy", [("t", task("echo", lit("fine"))), ("end", exit_(out("t")))])


def open_engine(url: str) -> Any:
    return Engine.open(url, tasks=TASKS, poll_interval=0.05)


async def _run(engine: Engine, workflow: Any, run_id: str) -> RunInfo:
    await engine.deploy(workflow)
    return await engine.wait(await engine.start(workflow.name, run_id=run_id), timeout=10)


async def _healthy_still_runs(engine: Engine) -> None:
    await engine.deploy(HEALTHY)
    run = await engine.wait(await engine.start("healthy"), timeout=10)
    assert (run.status, run.output) == (RunStatus.COMPLETED, "fine")


def _failure(run: RunInfo) -> tuple[str, str]:
    assert run.status is RunStatus.FAILED, run
    assert run.failure is not None
    return run.failure.name, run.failure.message


# ---------------------------------------------------------------------- what a task raises


@pytest.mark.parametrize("flavour", ["raise-sync", "raise-async"])
@pytest.mark.parametrize("kind", sorted(RAISED))
async def test_anything_a_task_raises_fails_only_that_attempt(db_url: str, flavour: str, kind: str) -> None:
    async with open_engine(db_url) as engine:
        run = await _run(engine, one_task(flavour, lit(kind)), "r")
        await _healthy_still_runs(engine)
    name, message = _failure(run)
    assert name == "TASK_ERROR"
    expected = {
        "system-exit": "raised SystemExit(3); a task cannot stop the engine",
        "keyboard-interrupt": "raised KeyboardInterrupt(); a task cannot stop the engine",
        "odd-base-exception": "Odd: odd",
        "unprintable": "<unprintable Unprintable: its __str__ and __repr__ raise>",
    }[kind]
    assert expected in message


@pytest.mark.parametrize("kind", sorted(BUSINESS))
async def test_a_task_exception_that_cannot_be_stored_is_a_task_error(db_url: str, kind: str) -> None:
    async with open_engine(db_url) as engine:
        run = await _run(engine, one_task("business", lit(kind)), "r")
        await _healthy_still_runs(engine)
    name, message = _failure(run)
    assert name == "TASK_ERROR"
    assert message.startswith("task 'business' raised a TaskException")
    expected = {
        "object-content": "content cannot be stored: it is not JSON: a Python object has no JSON form",
        "nan-content": "content cannot be stored: at $.score: NaN is not allowed",
        "huge-content": f"over the limit of {OUTPUT_LIMIT:,} bytes (1 MiB)",
        "name-not-str": "whose name is a int, not a non-empty str",
        "message-not-str": "whose message is a dict, not a str",
    }[kind]
    assert expected in message


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
async def test_an_output_that_cannot_be_stored_is_a_task_error_naming_why(db_url: str, kind: str) -> None:
    async with open_engine(db_url) as engine:
        run = await _run(engine, one_task("returns", lit(kind)), "r")
        await _healthy_still_runs(engine)
    name, message = _failure(run)
    assert name == "TASK_ERROR"
    expected = {
        "huge": f"is {OUTPUT_LIMIT + 3:,} bytes as JSON, over the limit of {OUTPUT_LIMIT:,} bytes (1 MiB)",
        "nan": "at $.a[1]: NaN is not allowed",
        "infinity": "at $.a: an infinite number is not allowed",
        "lone-surrogate": "at $.a: a string holds a lone UTF-16 surrogate",
        "int-past-64-bits": "at $.a: an integer outside the signed 64-bit range",
        "object": "it is not JSON: a Python object has no JSON form; use JSON data, a dataclass or",
    }[kind]
    assert expected in message
    assert len(message) < 1000  # the value itself is never copied into the journal


@pytest.mark.parametrize("kind", sorted(CONVERTED))
async def test_an_output_with_a_json_form_is_stored_as_that_json(db_url: str, kind: str) -> None:
    async with open_engine(db_url) as engine:
        run = await _run(engine, one_task("converts", lit(kind)), "r")
    assert (run.status, run.output) == (RunStatus.COMPLETED, CONVERTED[kind][1])


async def test_a_sync_task_hanging_past_its_timeout_fails_and_does_not_hold_the_engine(db_url: str) -> None:
    hanging_threads.clear()
    started = time.monotonic()
    async with open_engine(db_url) as engine:
        run = await _run(engine, one_task("hangs"), "r")
        await _healthy_still_runs(engine)
    assert _failure(run)[0] == "TIMEOUT"
    history = [h for h in await _history(db_url, "r") if h.kind == "TASK_FAILED"]
    assert [h.detail["error"] for h in history] == ["TIMEOUT"]
    assert time.monotonic() - started < 10  # closing did not wait for the sleeping thread
    # A daemon thread: the process can exit while it still sleeps.
    assert hanging_threads and all(t.daemon and t.is_alive() for t in hanging_threads)


async def _history(url: str, run_id: str) -> list[Any]:
    async with Engine.open(url, serve=False) as engine:
        return await engine.history(run_id)


# ---------------------------------------------------------------------- runs set aside


async def _assert_set_aside(engine: Engine, db: Db, run_id: str, because: str) -> None:
    run = await engine.wait(run_id, timeout=10)
    name, message = _failure(run)
    assert name == "RUN_SET_ASIDE"
    assert because in message and "set aside" in message
    history = await engine.history(run_id)
    assert history[-1].kind == "RUN_FAILED"
    assert history[-1].detail["error"] == "RUN_SET_ASIDE" and because in history[-1].detail["message"]
    # Nothing of the run is left to deliver again: no attempt, timer or wait.
    for table in ("tasks", "timers", "event_waits"):
        assert db.rows(f"SELECT count(*) FROM {table} WHERE run_id = '{run_id}'") == [(0,)], table


async def test_a_run_whose_task_output_the_database_refuses_is_set_aside_and_its_batch_goes_on(
    db_url: str, db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    GATES.append(Gate(21))
    async with open_engine(db_url) as engine:
        await engine.deploy(one_task("gated", lit("poison")))
        await engine.deploy(
            gated_flow := spec("gated-fine", [("t", task("gated", lit("fine"))), ("end", exit_(out("t")))])
        )
        refuse_marker_in_runs(db)
        poisoned = await engine.start("call-gated", run_id="poisoned")
        healthy = [await engine.start(gated_flow.name, run_id=f"healthy-{i}") for i in range(20)]
        await _assert_set_aside(engine, db, poisoned, "the test database refuses this value")
        runs = [await engine.wait(run_id, timeout=10) for run_id in healthy]
        assert {(run.status, run.output) for run in runs} == {(RunStatus.COMPLETED, "fine")}
        await _healthy_still_runs(engine)
        with pytest.raises(RunStateError, match="could not commit a step of this run"):
            await engine.retry(poisoned)  # it would only fail the same way
    # The poisoned result was committed together with others, and only it failed.
    batches = [r.getMessage() for r in caplog.records if r.getMessage().startswith("commit of ")]
    assert any(not message.startswith("commit of 1 command(s)") for message in batches), batches


async def test_a_timer_whose_transition_the_database_refuses_sets_its_run_aside(db_url: str, db: Db) -> None:
    # After the sleep, the edge stores the marker in a variable: the commit of
    # the fired timer is refused every time it is tried.
    slept = spec(
        "sleeps",
        [("nap", sleep(lit(0.05), edges=[edge("end", None, mut("note", "assign", lit(MARKER)))])), ("end", exit_())],
        variables={"note": variable("str")},
    )
    async with open_engine(db_url) as engine:
        await engine.deploy(slept)
        refuse_marker_in_runs(db)
        run_id = await engine.start("sleeps", run_id="sleeper")
        await _assert_set_aside(engine, db, run_id, "(TimerFired)")
        await _healthy_still_runs(engine)


async def test_a_transition_that_cannot_be_encoded_sets_its_run_aside(
    db_url: str, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An output that slipped past the door of run_task: encoding the run's
    # state fails (a lone surrogate), so the transition can never be committed.
    real = attempts.run_task

    async def leaky(definition: Any, args: list[Any], context: Any, timeout: float | None, *rest: Any) -> TaskOutcome:
        if args == ["leak"]:
            return TaskOutcome(ok=True, output="\ud800")
        return await real(definition, args, context, timeout, *rest)

    monkeypatch.setattr(attempts, "run_task", leaky)
    async with open_engine(db_url) as engine:
        await engine.deploy(one_task("echo", lit("leak")))
        run_id = await engine.start("call-echo", run_id="leaky")
        await _assert_set_aside(engine, db, run_id, "UnicodeEncodeError")
        await _healthy_still_runs(engine)


async def test_a_correlation_key_postgresql_refuses_sets_its_run_aside(db_url: str, db: Db) -> None:
    if db.kind != "postgres":
        pytest.skip("SQLite stores NUL characters in text; PostgreSQL refuses them")
    keyed = spec(
        "keyed",
        [("t", task("echo", lit("a\x00b"))), ("w", wait("go", correlation=out("t"))), ("end", exit_())],
    )
    async with open_engine(db_url) as engine:
        await engine.deploy(keyed)
        run_id = await engine.start("keyed", run_id="nul")
        await _assert_set_aside(engine, db, run_id, "CharacterNotInRepertoireError")
        await _healthy_still_runs(engine)


# ---------------------------------------------------------------------- the guard's edges

CONTEXT = TaskContext(run_id="r", workflow="w", task="t", node_id="n", thread=0, attempt=1, idempotency_key="r/0/n/1")


async def test_only_the_callers_cancellation_leaves_run_task() -> None:
    @wfc_task("slow")
    async def slow() -> None:
        await anyio.sleep(10)

    @wfc_task("cancels-itself")
    async def cancels_itself() -> None:
        raise anyio.get_cancelled_exc_class()()

    with anyio.move_on_after(0.05) as scope:
        await run_task(slow.definition, [], CONTEXT, None)
        pytest.fail("run_task swallowed the cancellation of its caller")
    assert scope.cancelled_caught
    # A cancellation the task raised by itself, nobody cancelling it, is its failure.
    outcome = await run_task(cancels_itself.definition, [], CONTEXT, None)
    assert (outcome.ok, outcome.name, outcome.message) == (False, "TASK_ERROR", "CancelledError: ")


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True),
        (OverflowError("Python int too large to convert to SQLite INTEGER"), True),
        (msgspec.EncodeError("nope"), True),
        (sqlite3.IntegrityError("CHECK constraint failed"), True),
        (asyncpg.exceptions.CheckViolationError("check"), True),
        (asyncpg.exceptions.CharacterNotInRepertoireError("0x00"), True),
        (asyncpg.DataError("invalid input for query argument $1"), True),
        (sqlite3.OperationalError("disk I/O error"), False),
        (sqlite3.DatabaseError("database disk image is malformed"), False),
        (asyncpg.exceptions.DiskFullError("no space left"), False),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), False),
        (ConflictError(["r"]), False),
        (OSError("network down"), False),
    ],
)
def test_only_errors_about_the_data_set_a_run_aside(error: Exception, refused: bool) -> None:
    # The environment (full disk, lost connection, busy database) is not the
    # run's fault: its input is kept and tried again, the run left as it is.
    assert refused_data(error) is refused


async def test_long_messages_are_cut_and_odd_text_is_made_storable() -> None:
    @wfc_task("long")
    def long_business() -> None:
        raise TaskException("declined", "m" * 1_000_000)

    @wfc_task("odd-text")
    def odd_text() -> None:
        raise ValueError("bad \ud800 and \x00 inside")

    outcome = await run_task(long_business.definition, [], CONTEXT, None)
    assert (outcome.business, outcome.name) == (True, "declined")
    assert len(outcome.message) < MESSAGE_LIMIT + 100 and outcome.message.endswith("996,000 more characters cut)")
    outcome = await run_task(odd_text.definition, [], CONTEXT, None)
    assert outcome.message == "ValueError: bad \\ud800 and \\x00 inside"
    msgspec.json.encode(outcome.message).decode("utf-8")  # storable as it is
