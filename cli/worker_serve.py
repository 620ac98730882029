"""What ``wfc worker`` does once its options are parsed: import the task
modules, serve the database with a :class:`~wfc.runtime._worker.Worker`, and
show its progress until a signal stops it (see :mod:`wfc.cli.worker_cmd`)."""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import anyio
from rich.console import Console
from rich.live import Live
from rich.text import Text

from wfc.cli import output
from wfc.cli.engine_access import run_async
from wfc.cli.errors import CliError
from wfc.cli.loading import import_target
from wfc.runtime import Engine, TaskFunction
from wfc.runtime._tasks import task_definitions
from wfc.runtime._urls import redact_url
from wfc.runtime._worker import Worker, WorkerStats
from wfc.runtime.store import is_postgres_url
from wfc.runtime.tracing import Tracing

AnyTask = TaskFunction[Any, Any]


def serve(url: str, task_targets: list[str], *, concurrency: int, grace: float, lease: float, poll: float,
          stats_every: float, tracing: Tracing | None = None) -> None:
    """Serve the database at ``url`` with the tasks of ``task_targets`` until SIGINT/SIGTERM."""
    tasks = load_tasks(task_targets)
    worker = Worker(url, tasks, concurrency=concurrency, grace=grace, lease_seconds=lease, poll_interval=poll,
                    tracing=tracing)
    console = output.stdout()
    run_async(lambda: _serve(worker, console, [t.definition.name for t in tasks], stats_every))


def load_tasks(targets: list[str]) -> list[AnyTask]:
    """Every ``@task`` function in the targets' globals, once per name.

    Raises:
        CliError: a target does not import, defines no task, or two different
            functions share a task name.
    """
    found: list[AnyTask] = []
    for target in targets:
        module, label = import_target(target)
        tasks = _tasks_in(module)
        if not tasks:
            raise CliError(
                f"{label} defines no @task function at module level; a worker runs the @task functions "
                f"(from wfc.runtime import task) of the modules given with --tasks"
            )
        found.extend(tasks)
    try:
        definitions = task_definitions(found)
    except Exception as exc:
        raise CliError(f"cannot register the tasks of {', '.join(targets)}: {exc}") from None
    unique: dict[str, AnyTask] = {}
    for item in found:
        if definitions[item.definition.name].fn is item.definition.fn:
            unique.setdefault(item.definition.name, item)
    return list(unique.values())


def _tasks_in(module: ModuleType) -> list[AnyTask]:
    return [value for value in vars(module).values() if isinstance(value, TaskFunction)]


@dataclass
class _Rates:
    """Per-second rates between two snapshots."""

    previous: WorkerStats

    def line(self, now: WorkerStats) -> str:
        span = max(now.elapsed - self.previous.elapsed, 1e-9)

        def rate(current: int, before: int) -> str:
            return f"{(current - before) / span:.1f}/s"

        text = (
            f"claimed {rate(now.claimed, self.previous.claimed)}, "
            f"completed {rate(now.completed, self.previous.completed)}, "
            f"failed {rate(now.failed, self.previous.failed)}; running {now.running}; "
            f"total completed {now.completed}, failed {now.failed}"
        )
        self.previous = now
        return text


async def _serve(worker: Worker, console: Console, names: list[str], stats_every: float) -> None:
    started = anyio.Event()

    def ready(engine: Engine) -> None:
        where = socket.gethostname()
        console.print(
            f"wfc worker {engine.engine_id[:8]} (pid {os.getpid()} on {where}) serving {', '.join(sorted(names))} "
            f"on {redact_url(engine.url)}, up to {worker.concurrency} at once; Ctrl-C or SIGTERM stops it",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if not is_postgres_url(engine.url):
            output.print_warning(
                "SQLite serves one process at a time: run one worker (or engine) per SQLite database; "
                "use a postgresql:// database to share the work between many workers"
            )
        started.set()

    failures: list[Exception] = []
    async with anyio.create_task_group() as tg:

        async def serve() -> None:
            try:
                await worker.run(ready)
            except Exception as exc:  # reported as itself, not in an ExceptionGroup
                failures.append(exc)
            finally:
                tg.cancel_scope.cancel()

        tg.start_soon(_watch_signals, worker, console)
        tg.start_soon(serve)
        await started.wait()
        await _report(worker, console, stats_every)
    if failures:
        raise failures[0]
    final = worker.stats()
    released = f"; released {final.running} unfinished attempt(s) to other workers" if final.running else ""
    console.print(
        f"wfc worker stopped after {final.elapsed:.1f}s: claimed {final.claimed}, completed {final.completed}, "
        f"failed {final.failed}{released}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


async def _watch_signals(worker: Worker, console: Console) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            name = signal.Signals(received).name
            if not worker.stopping:
                running = worker.stats().running
                console.print(
                    f"{name}: stopping; {running} running attempt(s) get up to {worker.grace:g}s to finish "
                    f"(send it again to release them now)",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
                worker.stop()
            else:
                console.print(f"{name}: releasing the running attempts now", markup=False, highlight=False)
                worker.hurry()


async def _report(worker: Worker, console: Console, every: float) -> None:
    """Show the rates until the worker stops (this task is cancelled)."""
    rates = _Rates(worker.stats())
    if console.is_terminal:
        with Live(Text("starting", style="dim"), console=console, transient=True, refresh_per_second=4) as live:
            while True:
                await anyio.sleep(1.0)
                live.update(Text.assemble(("worker ", "dim"), rates.line(worker.stats())))
    else:
        while True:
            await anyio.sleep(every)
            console.print(f"wfc worker: {rates.line(worker.stats())}", markup=False, highlight=False, soft_wrap=True)
