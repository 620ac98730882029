"""Keyset paging of runs (:meth:`Engine.list_runs_page`, behind ``GET
/runs``) on both stores: every run exactly once, newest first, also when
many runs share one creation time and several statuses are asked for."""

from __future__ import annotations

import anyio
from srvlive import SPECS

from wfc.runtime import Engine, RunInfo, RunKey


def test_pages_cover_every_run_once_with_equal_creation_times(db_url: str) -> None:
    now = [1_000_000.0]
    ids = [f"{prefix}-{n}" for n in range(9) for prefix in ("a", "B", "z")]  # mixed case: code point order

    async def main() -> list[list[str]]:
        async with Engine.open(db_url, serve=False, clock=lambda: now[0]) as engine:
            for spec in SPECS:
                await engine.deploy(spec)
            for n, run_id in enumerate(ids):
                now[0] = 1_000_000.0 + n // 10  # ten runs share each creation time
                await engine.start("approval", {"order-id": run_id}, run_id=run_id)
            for run_id in ids[::3]:
                await engine.halt(run_id)
            pages: list[list[str]] = []
            for statuses in (None, ["RUNNING", "HALTED"], ["HALTED"]):
                after: RunKey | None = None
                seen: list[RunInfo] = []
                while True:
                    page = await engine.list_runs_page(status=statuses, limit=4, after=after)
                    seen.extend(page.runs)
                    assert len(page.runs) <= 4
                    if page.next is None:
                        break
                    after = page.next
                pages.append([info.id for info in seen])
                assert [(i.created_at, i.id) for i in seen] == sorted(
                    ((i.created_at, i.id) for i in seen), reverse=True
                )
            return pages

    every, running_or_halted, halted = anyio.run(main)
    assert sorted(every) == sorted(ids) and len(every) == len(ids)
    assert running_or_halted == every
    assert sorted(halted) == sorted(ids[::3])
