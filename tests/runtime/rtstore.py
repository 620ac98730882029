"""Records for store tests: a seeded spec and run, run writes, outbox rows."""

from __future__ import annotations

from wfc.runtime.store import RunWrite, SpecRecord, Store, TaskRecord


async def seed(store: Store, run_id: str = "r1") -> None:
    """Deploy spec ``w`` 1.0 (once) and create run ``run_id`` of it."""
    async with store.transaction() as tx:
        if await tx.get_spec("w", 1, 0) is None:
            await tx.insert_spec(SpecRecord("w", 1, 0, "sha256:x", b"{}", 1.0))
        tx.batch.runs[run_id] = run_write(run_id, None)


def run_write(run_id: str, expected: int | None, status: str = "RUNNING") -> RunWrite:
    """A write of run ``run_id`` that read version ``expected``."""
    return RunWrite(
        id=run_id,
        workflow="w",
        major=1,
        revision=0,
        status=status,
        state=b'{"s":1}',
        created_at=1.0,
        updated_at=2.0,
        expected_version=expected,
    )


def task_record(
    dispatch_id: str, run_id: str = "r1", task: str = "t", owner: str | None = None, expires: float | None = None
) -> TaskRecord:
    """An outbox row."""
    return TaskRecord(
        dispatch_id=dispatch_id,
        run_id=run_id,
        workflow="w",
        thread=0,
        node="n",
        task=task,
        args=b"[1]",
        attempt=1,
        idempotency_key=dispatch_id.split("#")[0],
        timeout=None,
        created_at=1.0,
        lease_owner=owner,
        lease_expires_at=expires,
    )
