"""A run's timeline (``GET /runs/{id}/timeline``) from its journal: every
attempt a bar of its own (retries visible), compensations under one
compensation bar, and what is still going drawn up to now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wfc.runtime import HistoryEntry
from wfc.server._timeline import timeline

T0 = 1_800_000_000.0


def entry(seq: int, at: float, what: str, node: str | None = None, attempt: int | None = None,
          thread: int = 0, **detail: Any) -> HistoryEntry:  # fmt: skip
    return HistoryEntry(seq=seq, timestamp=dt.datetime.fromtimestamp(T0 + at, dt.UTC), thread=thread, node=node,
                        kind=what, attempt=attempt, detail=detail)  # fmt: skip


def test_retries_are_bars_of_their_own_and_compensations_hang_under_one_bar() -> None:
    journal = [
        entry(1, 0.0, "RUN_STARTED", workflow="shop", version="1.0"),
        entry(2, 0.0, "TASK_DISPATCHED", "charge", 1, task="charge", idempotency_key="k/charge/1"),
        entry(3, 0.5, "TASK_COMPLETED", "charge", 1, task="charge"),
        entry(4, 0.5, "TASK_DISPATCHED", "ship", 1, task="ship", idempotency_key="k/ship/1"),
        entry(5, 0.7, "TASK_FAILED", "ship", 1, task="ship", error="TASK_ERROR", message="down", kind="error",
              retry_in=1.0, next_attempt=2),
        entry(6, 1.7, "TASK_DISPATCHED", "ship", 2, task="ship", idempotency_key="k/ship/1"),
        entry(7, 1.9, "TASK_FAILED", "ship", 2, task="ship", error="TASK_ERROR", message="down", kind="error"),
        entry(8, 1.9, "NODE_FAILED", "ship", error="TASK_ERROR", message="down", kind="error"),
        entry(9, 1.9, "COMPENSATION_STARTED", cause="failure", error="TASK_ERROR", completed_steps=1),
        entry(10, 1.9, "COMPENSATION_DISPATCHED", "charge", 1, task="refund", idempotency_key="k/charge/1/compensate"),
        entry(11, 2.4, "COMPENSATION_COMPLETED", "charge", 1, task="refund"),
        entry(12, 2.4, "RUN_COMPENSATED", compensated=["refund"], error="TASK_ERROR", message="down"),
    ]
    drawn = timeline("r-1", "shop", journal, T0 + 10)
    assert drawn.duration == 2.4 and drawn.started_at == T0
    assert [(b.kind, b.label, b.attempt, b.outcome) for b in drawn.bars] == [
        ("run", "shop", None, "COMPENSATED"),
        ("task", "charge", 1, "ok"),
        ("task", "ship", 1, "error"),
        ("task", "ship", 2, "error"),
        ("compensation", "compensation", None, "compensated"),
        ("compensate", "refund", 1, "ok"),
    ]
    bars = {(b.label, b.attempt): b for b in drawn.bars}
    assert (bars["ship", 2].start, bars["ship", 2].end) == (1.7, 1.9)
    assert bars["refund", 1].parent == bars["compensation", None].id
    assert bars["ship", 1].parent == bars["shop", None].id
    assert not any(b.open for b in drawn.bars)


def test_what_is_still_going_ends_now_and_is_marked_open() -> None:
    journal = [
        entry(1, 0.0, "RUN_STARTED", workflow="wait", version="1.0"),
        entry(2, 1.0, "EVENT_WAITING", "approval", event="approved"),
    ]
    drawn = timeline("r-2", "wait", journal, T0 + 31)
    assert [(b.kind, b.label, b.open, b.end) for b in drawn.bars] == [
        ("run", "wait", True, 31.0),
        ("wait", "approved", True, 31.0),
    ]
