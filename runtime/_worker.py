"""A worker: a process that runs task attempts for a shared database.

Any number of workers (``wfc worker``, or :class:`Worker` in your own
process) and engines on any number of machines can serve one PostgreSQL
database. A worker claims the attempts of the tasks it registers (only
those), at most ``concurrency`` at once, advances the runs they belong to,
fires due timers, and takes over the attempts of workers that died. It
deploys nothing and starts no runs: clients (``wfc run --detach``,
``Engine.open(url, serve=False)``) do that.

Nothing a task does stops a worker: an exception of any kind (``SystemExit``
included), an output that cannot be stored or a hang past the timeout fails
that attempt only, and a run whose next step the database refuses is set
aside (FAILED, ``RUN_SET_ASIDE``) while the worker goes on with the others.

```python
worker = Worker("postgresql://db/app", tasks=[charge_card, ship_order], concurrency=50)
async with anyio.create_task_group() as tg:
    tg.start_soon(worker.run)
    ...
    worker.stop()   # finish what is running (up to `grace` seconds), release the rest
```
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import anyio

from wfc.runtime._engine import Engine, TaskLike
from wfc.runtime._observe import Observer
from wfc.runtime.errors import UsageError
from wfc.runtime.tracing import Tracing


@dataclass(frozen=True)
class WorkerStats:
    """What a worker did since it started."""

    claimed: int
    """Attempts taken from the shared outbox (dispatched by clients or other
    processes, or left by a worker that died)."""
    started: int
    """Attempts started here, claimed or following from this worker's own commits."""
    completed: int
    failed: int
    """Attempts that raised or timed out (a retry is a new attempt)."""
    running: int
    """Attempts running now."""
    elapsed: float
    """Seconds since the worker started serving."""


class Worker:
    """Serves a database: runs the attempts of ``tasks`` until :meth:`stop`.

    Args:
        url: The database (``postgresql://...`` for many processes; a SQLite
            database is served by one process at a time).
        tasks: The ``@task`` functions this worker runs.
        concurrency: Most attempts running at once.
        grace: On :meth:`stop`, seconds the running attempts get to finish
            before they are released to other workers.
        lease_seconds: How long a claimed attempt stays this worker's without
            a heartbeat before another worker may take it over.
        poll_interval: Seconds between looks at the database when no
            notification came.
        tracing: Export OpenTelemetry spans of the runs (see
            :mod:`wfc.runtime.tracing`).
        observers: Told about every commit (see ``Engine.open``), e.g.
            :class:`wfc.runtime.metrics.Metrics`.
    """

    def __init__(
        self,
        url: str,
        tasks: Iterable[TaskLike],
        *,
        concurrency: int = 100,
        grace: float = 10.0,
        lease_seconds: float = 30.0,
        poll_interval: float = 1.0,
        tracing: Tracing | None = None,
        observers: Iterable[Observer] = (),
    ) -> None:
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
            raise UsageError(f"concurrency must be an int >= 1, got {concurrency!r}")
        self.url = url
        self._tasks = list(tasks)
        if not self._tasks:
            raise UsageError("a worker needs at least one @task function to run: Worker(url, tasks=[...])")
        self.concurrency = concurrency
        self.grace = grace
        self._lease = lease_seconds
        self._poll = poll_interval
        self._tracing = tracing
        self._observers = list(observers)
        self._stop = anyio.Event()
        self._engine: Engine | None = None
        self._began = time.monotonic()
        self._final: WorkerStats | None = None

    @property
    def engine(self) -> Engine | None:
        """The engine serving the database while :meth:`run` runs."""
        return self._engine

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    def stop(self, grace: float | None = None) -> None:
        """Stop taking work: running attempts get ``grace`` seconds (the
        worker's own by default) to finish, then they are released."""
        if grace is not None:
            self.grace = grace
        self._stop.set()

    def hurry(self) -> None:
        """Stop now: release the running attempts without waiting for them."""
        self.stop(grace=0)
        if self._engine is not None:
            self._engine.hurry()

    def stats(self) -> WorkerStats:
        """What the worker did so far."""
        if self._final is not None:
            return self._final
        engine = self._engine
        if engine is None:
            return WorkerStats(0, 0, 0, 0, 0, 0.0)
        counters = engine.counters
        return WorkerStats(
            claimed=counters.claimed,
            started=counters.started,
            completed=counters.completed,
            failed=counters.failed,
            running=engine.running_attempts,
            elapsed=time.monotonic() - self._began,
        )

    async def run(self, on_ready: Callable[[Engine], None] | None = None) -> WorkerStats:
        """Serve the database until :meth:`stop`; return the final stats.

        Raises:
            StoreError: the database cannot be opened.
        """
        async with Engine.open(
            self.url,
            tasks=self._tasks,
            serve=True,
            check_tasks=False,
            lease_seconds=self._lease,
            poll_interval=self._poll,
            max_concurrent_tasks=self.concurrency,
            tracing=self._tracing,
            observers=self._observers,
        ) as engine:
            self._engine = engine
            self._began = time.monotonic()
            if on_ready is not None:
                on_ready(engine)
            await self._stop.wait()
            await engine.drain(self.grace)
            self._final = None
            final = self.stats()
        self._final = final
        self._engine = None
        return final
