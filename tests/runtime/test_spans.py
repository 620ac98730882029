"""Spans as a pure function of a run's journal (wfc.runtime._spans): the
same journal gives the same spans, and picking a run up in the middle (a
restart) gives exactly the spans not given yet, whatever the cut."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from rtclock import ManualClock, finish, manual_engine
from rtengine import example, recorded

from wfc.runtime import HistoryEntry, UserTaskStatus
from wfc.runtime._spans import KINDS, Entry, RunSpans, SpanRecord, span_id
from wfc.runtime._trace_context import TraceContext, parse_traceparent, stored_trace
from wfc.runtime.errors import UsageError

pytestmark = pytest.mark.anyio

TRACE = TraceContext(trace_id=0x1234, parent_span_id=None, sampled=True)
INPUTS = {
    "customer-email": "ada@example.com",
    "items": [{"sku": "SKU-MOUSE", "quantity": 1}],
    "card-token": "tok_visa",
    "shipping-address": {"street": "Damrak 1", "city": "Amsterdam", "country": "NL"},
}


def entries(history: list[HistoryEntry]) -> list[Entry]:
    return [Entry(h.seq, h.timestamp.timestamp(), h.thread, h.node, h.kind, h.attempt, h.detail) for h in history]


def spans_of(journal: list[Entry], cut: int = 0) -> list[SpanRecord]:
    """The spans a process makes that picks the run up at entry ``cut``."""
    run = RunSpans("o-1", "checkout", TRACE)
    out: list[SpanRecord] = []
    for entry in journal:
        out.extend(run.feed(entry, replay=entry.seq < cut))
    return out


@pytest.fixture
async def compensated_journal(sqlite_url: str) -> list[Entry]:
    spec, tasks = example("checkout")
    clock = ManualClock()
    inputs = {**INPUTS, "order-id": "o-no-carrier-9"}
    async with manual_engine(sqlite_url, clock, tasks=tasks, poll_interval=0.02) as engine:
        await engine.deploy(spec)
        await engine.start("checkout", inputs, run_id="o-1")
        await finish(engine, clock, "o-1")
        return entries(await engine.history("o-1"))


@pytest.fixture
async def retried_journal(sqlite_url: str) -> list[Entry]:
    """A compensation that failed for good, then the run retried to its end."""
    down = {"left": 10}

    def flaky_warehouse(order_id: str, reservation_id: str) -> dict[str, Any]:
        if down["left"] > 0:
            down["left"] -= 1
            raise ConnectionError("warehouse API down")
        return {"reservation_id": reservation_id, "released": True}

    spec, tasks = example("checkout")
    clock = ManualClock()
    defs = recorded(tasks, [], {"release-inventory": flaky_warehouse})
    async with manual_engine(sqlite_url, clock, tasks=defs, poll_interval=0.02) as engine:
        await engine.deploy(spec)
        await engine.start("checkout", {**INPUTS, "order-id": "o-no-carrier-8"}, run_id="o-1")
        await finish(engine, clock, "o-1")
        down["left"] = 0
        await engine.retry("o-1")
        await finish(engine, clock, "o-1")
        journal = entries(await engine.history("o-1"))
    assert "RUN_RETRIED" in [e.kind for e in journal]
    return journal


async def test_a_retried_run_picked_up_anywhere_gives_the_spans_not_given_yet(retried_journal: list[Entry]) -> None:
    whole = spans_of(retried_journal)
    assert len({s.span_id for s in whole}) == len(whole)
    for cut in range(1, len(retried_journal) + 1):
        assert spans_of([e for e in retried_journal if e.seq < cut]) + spans_of(retried_journal, cut) == whole


async def test_the_same_journal_gives_the_same_spans(compensated_journal: list[Entry]) -> None:
    first, second = spans_of(compensated_journal), spans_of(compensated_journal)
    assert first == second
    assert len({s.span_id for s in first}) == len(first)


async def test_picking_a_run_up_at_any_entry_gives_exactly_the_spans_not_given_yet(
    compensated_journal: list[Entry],
) -> None:
    whole = spans_of(compensated_journal)
    for cut in range(1, len(compensated_journal) + 1):
        given_before = spans_of([e for e in compensated_journal if e.seq < cut])
        assert given_before + spans_of(compensated_journal, cut) == whole, f"picked up at seq {cut}"


async def test_every_attempt_of_the_journal_is_one_span(compensated_journal: list[Entry]) -> None:
    spans = spans_of(compensated_journal)
    dispatched = [e for e in compensated_journal if e.kind in ("TASK_DISPATCHED", "COMPENSATION_DISPATCHED")]
    attempts = [s for s in spans if s.name.startswith(("task ", "compensate "))]
    assert sorted(int(s.attributes["wfc.seq"]) for s in attempts) == [e.seq for e in dispatched]
    assert all(s.span_id == span_id(TRACE, "o-1", str(s.attributes["wfc.seq"])) for s in attempts)


def test_an_unsampled_trace_gives_no_spans() -> None:
    run = RunSpans("r", "w", TraceContext(trace_id=1, parent_span_id=None, sampled=False))
    assert run.feed(Entry(1, 1.0, 0, None, "RUN_STARTED", None, {})) == []
    assert run.feed(Entry(2, 2.0, 0, None, "RUN_COMPLETED", None, {})) == []


def test_traceparents_are_checked_and_stored_contexts_read_back() -> None:
    context = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert stored_trace(context.traceparent(), "r") == context
    for bad, why in [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "four dash-separated hex fields"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id is all zeros"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent span id is all zeros"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff is forbidden"),
    ]:
        with pytest.raises(UsageError, match=why):
            parse_traceparent(bad)
    # a run stored before trace contexts were: the same derived trace in every process
    assert stored_trace(None, "old-run") == stored_trace(None, "old-run")
    assert stored_trace(None, "old-run").trace_id != stored_trace(None, "other-run").trace_id


async def test_the_kinds_spans_are_made_from_are_enough(retried_journal: list[Entry]) -> None:
    assert spans_of([e for e in retried_journal if e.kind in KINDS]) == spans_of(retried_journal)


@pytest.fixture
async def card_update_journal(sqlite_url: str) -> list[Entry]:
    """examples/card_update.py: an expired card, a reminder after a day,
    support after three, claimed and completed, charged again."""
    spec, tasks = example("card_update")
    clock = ManualClock()
    async with manual_engine(sqlite_url, clock, tasks=tasks, poll_interval=0.02) as engine:
        await engine.deploy(spec)
        await engine.start("card-update", {"payment-id": "p-1", "customer": "cust-42", "amount": 19.9,
                                           "customer-email": "ana@example.com", "card-token": "tok_expired_1"},
                           run_id="o-1")  # fmt: skip
        with anyio.fail_after(10):
            while not await engine.list_user_tasks(run_id="o-1"):
                await anyio.sleep(0.01)
        clock.advance(86400 + 1)
        with anyio.fail_after(10):
            while "USER_TASK_REMINDER_COMPLETED" not in [h.kind for h in await engine.history("o-1")]:
                await anyio.sleep(0.01)
        clock.advance(2 * 86400)
        with anyio.fail_after(10):
            while (await engine.list_user_tasks(run_id="o-1"))[0].status is not UserTaskStatus.UNASSIGNED:
                await anyio.sleep(0.01)
        task = (await engine.list_user_tasks(run_id="o-1"))[0]
        await engine.claim_user_task(task.id, "sam")
        await engine.complete_user_task(task.id, {"card_token": "tok_visa_4242"}, user="sam")
        await finish(engine, clock, "o-1")
        return entries(await engine.history("o-1"))


async def test_a_user_task_is_a_span_from_its_assignment_to_its_completion(
    card_update_journal: list[Entry],
) -> None:
    spans = spans_of(card_update_journal)
    (task,) = [s for s in spans if s.name == "user_task update-card"]
    at = {e.kind: e.at for e in card_update_journal}
    assert (task.start, task.end) == (at["USER_TASK_ASSIGNED"], at["USER_TASK_COMPLETED"])
    assert task.error is None
    assert task.attributes["wfc.outcome"] == "ok" and task.attributes["wfc.by"] == "sam"
    assert (task.attributes["wfc.user"], task.attributes["wfc.group"]) == ("cust-42", "support")
    assert [name for name, _, _ in task.events] == ["reminded", "reassigned", "claimed"]
    (reminder,) = [s for s in spans if s.name == "reminder send-card-reminder"]
    assert reminder.parent_id == task.span_id and reminder.attributes["wfc.outcome"] == "ok"
    handler = [s for s in spans if s.name.startswith("thread ") and s.span_id == task.parent_id]
    assert handler, "the task's span hangs under its thread's"


async def test_a_user_task_run_picked_up_anywhere_gives_the_spans_not_given_yet(
    card_update_journal: list[Entry],
) -> None:
    whole = spans_of(card_update_journal)
    assert len({s.span_id for s in whole}) == len(whole)
    for cut in range(1, len(card_update_journal) + 1):
        given_before = spans_of([e for e in card_update_journal if e.seq < cut])
        assert given_before + spans_of(card_update_journal, cut) == whole, f"picked up at seq {cut}"


async def test_a_cancelled_user_task_is_a_failed_span(sqlite_url: str) -> None:
    spec, tasks = example("expense_approval")
    clock = ManualClock()
    async with manual_engine(sqlite_url, clock, tasks=tasks, poll_interval=0.02) as engine:
        await engine.deploy(spec)
        await engine.start("expense-approval", {"expense-id": "e-1", "employee": "eve", "manager": "mia",
                                                "amount": 42.5, "purpose": "train"}, run_id="o-1")  # fmt: skip
        with anyio.fail_after(10):
            while not await engine.list_user_tasks(run_id="o-1"):
                await anyio.sleep(0.01)
        (task,) = await engine.list_user_tasks(run_id="o-1")
        await engine.cancel_user_task(task.id, reason="withdrawn", by="eve")
        await finish(engine, clock, "o-1")
        journal = entries(await engine.history("o-1"))
    (span,) = [s for s in spans_of(journal) if s.name == "user_task approve-expense"]
    assert span.attributes["wfc.outcome"] == "cancelled" and span.attributes["wfc.reason"] == "withdrawn"
    assert span.error == "USER_TASK_CANCELLED: withdrawn"


async def test_the_kinds_spans_are_made_from_are_enough_for_user_tasks(card_update_journal: list[Entry]) -> None:
    assert spans_of([e for e in card_update_journal if e.kind in KINDS]) == spans_of(card_update_journal)
