"""OpenTelemetry traces of runs (Engine.open(tracing=...)), checked in the
SDK's in-memory exporter: the shape of each run's span tree, attempts and
their outcomes, waits, links, threads, the trace context stored with the
run, and that spans leave as steps commit."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import anyio
import pytest
from rtclock import ManualClock, finish, manual_engine
from rtdb import Db
from rtengine import example, recorded

pytest.importorskip("opentelemetry.sdk.trace", reason="tracing tests need pip install 'wfc[otel]'")

import itertools

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from wfc.dsl import ThreadStrategy, Workflow, WorkflowThread
from wfc.runtime import Engine, RunStatus, UsageError, task
from wfc.runtime.tracing import Tracing

pytestmark = pytest.mark.anyio

ADDRESS = {"street": "Damrak 1", "city": "Amsterdam", "country": "NL"}
ITEMS = [{"sku": "SKU-KEYBOARD", "quantity": 1}]
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def checkout_inputs(order_id: str) -> dict[str, Any]:
    return {
        "order-id": order_id,
        "customer-email": "ada@example.com",
        "items": ITEMS,
        "card-token": "tok_visa",
        "shipping-address": ADDRESS,
    }


class Tree:
    """The exported spans of one trace, by id."""

    def __init__(self, spans: Iterable[ReadableSpan]) -> None:
        # in journal order (a manual clock gives many spans one start time)
        self.spans = sorted(spans, key=lambda s: (s.start_time or 0, (s.attributes or {})["wfc.seq"]))
        self.by_id = {s.context.span_id: s for s in self.spans}
        assert len(self.by_id) == len(self.spans), "a span was exported twice"

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}"
        return found[0]

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        return None if span.parent is None else self.by_id.get(span.parent.span_id)

    def children(self, span: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in self.spans if s.parent is not None and s.parent.span_id == span.context.span_id]


def stored_trace_id(db: Db, run_id: str) -> int:
    [(context,)] = db.rows(f"SELECT trace_context FROM runs WHERE id = '{run_id}'")
    return int(context.split("-")[1], 16)


async def run_checkout(db: Db, order_id: str, exporter: InMemorySpanExporter) -> Tree:
    spec, tasks = example("checkout")
    clock = ManualClock()
    tracing = Tracing(exporter, poll_interval=0.02)
    async with manual_engine(db.url, clock, tasks=tasks, poll_interval=0.02, tracing=tracing) as engine:
        await engine.deploy(spec)
        run_id = await engine.start("checkout", checkout_inputs(order_id), run_id=order_id)
        await finish(engine, clock, run_id)
    return Tree(exporter.get_finished_spans())


async def test_a_compensating_checkout_has_its_compensations_under_one_compensation_span(db: Db) -> None:
    exporter = InMemorySpanExporter()
    tree = await run_checkout(db, "o-no-carrier-1", exporter)
    run = tree.one("run checkout")
    assert run.parent is None and run.attributes is not None and run.attributes["wfc.status"] == "COMPENSATED"
    assert {s.context.trace_id for s in tree.spans} == {stored_trace_id(db, "o-no-carrier-1")}
    compensation = tree.one("compensation")
    assert tree.parent(compensation) is run
    undo = [s.name for s in tree.children(compensation)]
    assert undo == ["compensate release-inventory", "compensate refund-card", "compensate cancel-order"]
    for span in tree.children(compensation):
        assert span.attributes is not None
        assert span.attributes["wfc.outcome"] == "ok" and span.attributes["wfc.attempt"] == 1
        assert str(span.attributes["wfc.idempotency_key"]).endswith("/compensate")
    # the forward steps hang under the run's span, each attempt a span
    forward = [s.name for s in tree.children(run) if s.name.startswith("task ")]
    assert forward[:4] == ["task validate-cart", "task create-order", "task charge-card", "task reserve-inventory"]
    assert forward[4:] == ["task create-shipment"] * 4  # three retries
    # the failure handler's thread
    handler = [s for s in tree.children(run) if s.name.startswith("thread ")]
    assert len(handler) == 1 and handler[0].attributes is not None
    assert handler[0].attributes["wfc.thread.kind"] == "handler"


async def test_each_retry_is_a_span_with_its_attempt_number_key_and_outcome(db: Db) -> None:
    exporter = InMemorySpanExporter()
    tree = await run_checkout(db, "o-no-carrier-2", exporter)
    attempts = tree.named("task create-shipment")
    attrs = [dict(s.attributes or {}) for s in attempts]
    assert [a["wfc.attempt"] for a in attrs] == [1, 2, 3, 4]
    assert [a["wfc.outcome"] for a in attrs] == ["error"] * 4
    assert len({a["wfc.idempotency_key"] for a in attrs}) == 1  # the same key across retries
    assert all(s.status.status_code is StatusCode.ERROR for s in attempts)
    assert attempts[0].status.description is not None and "TASK_ERROR" in attempts[0].status.description
    assert len({s.context.span_id for s in attempts}) == 4
    # a retry starts after the attempt before it ended (its backoff)
    for before, after in itertools.pairwise(attempts):
        assert (before.end_time or 0) < (after.start_time or 0)


async def test_a_flaky_step_is_an_error_attempt_then_an_ok_one(db: Db) -> None:
    exporter = InMemorySpanExporter()
    tree = await run_checkout(db, "o-1-flaky", exporter)
    attempts = tree.named("task send-confirmation")
    assert [(s.attributes or {}).get("wfc.outcome") for s in attempts] == ["error", "ok"]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.UNSET]
    assert (tree.one("run checkout").attributes or {})["wfc.status"] == "COMPLETED"


@task("step")
async def step(label: str) -> str:
    return label


@task("fails")
async def fails() -> None:
    raise RuntimeError("boom")


def waits(wf: WorkflowThread) -> None:
    wf.execute("step", "before")
    wf.sleep(0.05)
    wf.wait_for_event("go", timeout=60)
    wf.execute("step", "after")


def threads(wf: WorkflowThread) -> None:
    def child(t: WorkflowThread) -> Any:
        item = t.declare_str("item").required()
        return t.execute("step", item)

    kids = wf.spawn_thread_for_each(["a", "b"], child, "kid")
    wf.wait_for_threads(kids, strategy=ThreadStrategy.ALL)


async def test_a_sleep_and_an_event_wait_are_spans_and_the_wait_links_the_received_event(db: Db) -> None:
    exporter = InMemorySpanExporter()
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=Tracing(exporter, poll_interval=0.02)) as e:
        await e.deploy(Workflow("waits", waits).compile())
        run_id = await e.start("waits", run_id="w1")
        with anyio.fail_after(10):
            while (await e.get_run(run_id)).node != "wait-go":
                await anyio.sleep(0.01)
        await e.send_event("go", {"ok": True}, run_id=run_id, event_id="ev-1")
        assert (await e.wait(run_id, timeout=10)).status is RunStatus.COMPLETED
    tree = Tree(exporter.get_finished_spans())
    run = tree.one("run waits")
    sleep, wait, event = tree.one("sleep"), tree.one("wait go"), tree.one("event go")
    assert tree.parent(sleep) is run and tree.parent(wait) is run and tree.parent(event) is run
    assert (sleep.end_time or 0) - (sleep.start_time or 0) >= 40_000_000  # 0.05 s, as committed
    assert (event.attributes or {})["wfc.event_id"] == "ev-1"
    assert [link.context.span_id for link in wait.links] == [event.context.span_id]
    assert (wait.attributes or {})["wfc.outcome"] == "ok"
    assert [s.name for s in tree.children(run) if s.name.startswith("task")] == ["task step", "task step"]


async def test_child_threads_have_spans_with_their_tasks_under_them(db: Db) -> None:
    exporter = InMemorySpanExporter()
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=Tracing(exporter, poll_interval=0.02)) as e:
        await e.deploy(Workflow("threads", threads).compile())
        run_id = await e.start("threads", run_id="t1")
        assert (await e.wait(run_id, timeout=10)).status is RunStatus.COMPLETED
    tree = Tree(exporter.get_finished_spans())
    run = tree.one("run threads")
    kids = tree.named("thread kid")
    assert len(kids) == 2 and all(tree.parent(k) is run for k in kids)
    assert sorted((k.attributes or {})["wfc.thread"] for k in kids) == [1, 2]
    for kid in kids:
        [attempt] = tree.children(kid)
        assert attempt.name == "task step"
        assert (attempt.attributes or {})["wfc.thread"] == (kid.attributes or {})["wfc.thread"]
    assert tree.parent(tree.one("wait threads")) is run


async def test_spans_leave_as_steps_commit_not_when_the_run_ends(db: Db) -> None:
    exporter = InMemorySpanExporter()
    async with Engine.open(db.url, [step], poll_interval=5, tracing=Tracing(exporter, poll_interval=5)) as e:
        await e.deploy(Workflow("waits", waits).compile())
        run_id = await e.start("waits", run_id="w2")
        # woken by the engine's commits: well within the 5 s poll interval
        with anyio.fail_after(4):
            while "sleep" not in [s.name for s in exporter.get_finished_spans()]:
                await anyio.sleep(0.01)
        assert (await e.get_run(run_id)).status is RunStatus.RUNNING
        assert "run waits" not in [s.name for s in exporter.get_finished_spans()]
        await e.cancel(run_id)
    names = [s.name for s in exporter.get_finished_spans()]
    assert "run waits" in names and names.count("wait go") == 1  # ended by the cancel


async def test_a_run_joins_the_callers_trace_given_as_traceparent(db: Db) -> None:
    exporter = InMemorySpanExporter()
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=Tracing(exporter, poll_interval=0.02)) as e:
        await e.deploy(Workflow("threads", threads).compile())
        await e.start("threads", run_id="t2", traceparent=CALLER)
        await e.wait("t2", timeout=10)
        with pytest.raises(UsageError, match=r"traceparent '00-zz' is not a W3C traceparent.*expected e\.g\."):
            await e.start("threads", run_id="t3", traceparent="00-zz")
    tree = Tree(exporter.get_finished_spans())
    run = tree.one("run threads")
    assert run.parent is not None and run.parent.span_id == 0x00F067AA0BA902B7 and run.parent.is_remote
    assert {s.context.trace_id for s in tree.spans} == {0x4BF92F3577B34DA6A3CE929D0E0E4736}
    assert db.rows("SELECT trace_context FROM runs WHERE id = 't2'") == [(CALLER,)]
    assert db.rows("SELECT count(*) FROM runs WHERE id = 't3'") == [(0,)]


async def test_a_caller_that_does_not_sample_gets_no_spans_for_its_run(db: Db) -> None:
    exporter = InMemorySpanExporter()
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=Tracing(exporter, poll_interval=0.02)) as e:
        await e.deploy(Workflow("threads", threads).compile())
        await e.start("threads", run_id="t4", traceparent=CALLER[:-2] + "00")
        await e.start("threads", run_id="t5")
        await e.wait("t4", timeout=10)
        await e.wait("t5", timeout=10)
    assert {(s.attributes or {})["wfc.run_id"] for s in exporter.get_finished_spans()} == {"t5"}


async def test_without_tracing_runs_still_store_a_trace_and_nothing_reads_the_feed(db: Db) -> None:
    async with Engine.open(db.url, [step], poll_interval=0.02) as e:
        await e.deploy(Workflow("threads", threads).compile())
        await e.start("threads", run_id="t6")
        await e.wait("t6", timeout=10)
    [(context,)] = db.rows("SELECT trace_context FROM runs WHERE id = 't6'")
    assert context.startswith("00-") and context.endswith("-0000000000000000-01")
    assert db.rows("SELECT count(*) FROM subscribers") == [(0,)]


async def test_a_restarted_engine_goes_on_from_the_saved_position_without_exporting_again(db: Db) -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(exporter, poll_interval=0.02)
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=tracing) as e:
        await e.deploy(Workflow("waits", waits).compile())
        await e.start("waits", run_id="w3")
        with anyio.fail_after(10):
            while "sleep" not in [s.name for s in exporter.get_finished_spans()]:
                await anyio.sleep(0.01)
    before = len(exporter.get_finished_spans())
    async with Engine.open(db.url, [step], poll_interval=0.02, tracing=tracing) as e:
        await e.send_event("go", None, run_id="w3")
        await e.wait("w3", timeout=10)
    tree = Tree(exporter.get_finished_spans())  # asserts no span id twice
    assert len(tree.spans) > before
    wait = tree.one("wait go")  # it began before the restart: its start comes from the journal
    assert (wait.start_time or 0) < (tree.one("event go").start_time or 0)
    assert tree.parent(wait) is tree.one("run waits")


def test_tracing_without_the_sdk_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(UsageError, match=r"pip install 'wfc\[otel\]'"):
        Tracing(InMemorySpanExporter())


def test_tracing_refuses_what_is_not_an_exporter() -> None:
    with pytest.raises(UsageError, match="takes an OpenTelemetry SpanExporter, got str"):
        Tracing("console")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"Tracing\(save_interval=...\) must be a number of seconds > 0"):
        Tracing(InMemorySpanExporter(), save_interval=0)


async def test_engine_open_refuses_a_tracing_that_is_not_one(db: Db) -> None:
    with pytest.raises(UsageError, match=r"tracing=\.\.\.\) takes a wfc\.runtime\.tracing\.Tracing"):
        async with Engine.open(db.url, tracing=InMemorySpanExporter()):  # type: ignore[arg-type]
            pass


async def test_one_process_exports_at_a_time_and_another_takes_over_when_it_stops(db: Db) -> None:
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    first_done, second_done = anyio.Event(), anyio.Event()

    async def serve_first() -> None:
        async with Engine.open(db.url, [step], poll_interval=0.02, tracing=Tracing(first, poll_interval=0.02)) as e:
            await e.deploy(Workflow("waits", waits).compile())
            await e.start("waits", run_id="w4")
            with anyio.fail_after(10):
                while "sleep" not in [s.name for s in first.get_finished_spans()]:
                    await anyio.sleep(0.01)
            await first_done.wait()

    async def stand_by() -> None:
        tracing = Tracing(second, poll_interval=0.02, lease_seconds=0.3)
        async with Engine.open(db.url, serve=False, tracing=tracing) as e:
            await second_done.wait()
            await e.send_event("go", None, run_id="w4")  # a client commits the event; nothing runs the task
            with anyio.fail_after(10):
                while "wait go" not in [s.name for s in second.get_finished_spans()]:
                    await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_first)
        await anyio.sleep(0.2)
        tg.start_soon(stand_by)
        with anyio.fail_after(10):
            while "sleep" not in [s.name for s in first.get_finished_spans()]:
                await anyio.sleep(0.01)
        assert second.get_finished_spans() == ()  # the first holds the lease
        first_done.set()  # it closes and gives the lease up
        await anyio.sleep(0.1)
        second_done.set()
    by_first = {s.context.span_id for s in first.get_finished_spans()}
    by_second = {s.context.span_id for s in second.get_finished_spans()}
    assert by_first and by_second and not by_first & by_second
    assert {s.name for s in second.get_finished_spans()} >= {"wait go", "event go"}


async def test_a_failed_compensation_retried_goes_on_under_the_same_compensation_span(db: Db) -> None:
    down = {"left": 10}

    def flaky_warehouse(order_id: str, reservation_id: str) -> dict[str, Any]:
        if down["left"] > 0:
            down["left"] -= 1
            raise ConnectionError("warehouse API down")
        return {"reservation_id": reservation_id, "released": True}

    spec, tasks = example("checkout")
    tasks = tuple(recorded(tasks, [], {"release-inventory": flaky_warehouse}))
    exporter, clock = InMemorySpanExporter(), ManualClock()
    tracing = Tracing(exporter, poll_interval=0.02)
    async with manual_engine(db.url, clock, tasks=tasks, poll_interval=0.02, tracing=tracing) as engine:
        await engine.deploy(spec)
        await engine.start("checkout", checkout_inputs("o-no-carrier-4"), run_id="o-no-carrier-4")
        assert (await finish(engine, clock, "o-no-carrier-4")).status is RunStatus.FAILED
        down["left"] = 0
        await engine.retry("o-no-carrier-4")
        assert (await finish(engine, clock, "o-no-carrier-4")).status is RunStatus.COMPENSATED
    tree = Tree(exporter.get_finished_spans())  # no span twice, though the run ended twice
    run, compensation = tree.one("run checkout"), tree.one("compensation")
    assert (run.attributes or {})["wfc.status"] == "FAILED" and run.status.status_code is StatusCode.ERROR
    assert (compensation.attributes or {})["wfc.outcome"] == "failed"
    retry = tree.one("retry")
    assert tree.parent(retry) is run and (retry.attributes or {})["wfc.status"] == "COMPENSATED"
    undo = [(s.name.removeprefix("compensate "), dict(s.attributes or {})) for s in tree.children(compensation)]
    assert [(task, a["wfc.outcome"], a.get("wfc.attempt")) for task, a in undo] == [
        *[("release-inventory", "error", n) for n in (1, 2, 3, 4)],
        ("refund-card", "skipped", None),  # not run when the compensation failed
        ("cancel-order", "skipped", None),
        ("release-inventory", "ok", 5),  # the retry goes on under the same compensation span
        ("refund-card", "ok", 1),
        ("cancel-order", "ok", 1),
    ]
