"""What ``wfc worker`` does once its options are parsed: import the task
modules, serve the database with a :class:`~wfc.runtime._worker.Worker`, and
show its progress until a signal stops it (see :mod:`wfc.cli.worker_cmd`)."""

from __future__ import annotations

import logging
import os
import signal
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from rich.console import Console
from rich.live import Live
from rich.text import Text

from wfc.cli import output
from wfc.cli.engine_access import run_async
from wfc.cli.errors import CliError
from wfc.cli.exiting import stop_signals
from wfc.cli.loading import import_target
from wfc.cli.log_options import LogFormat
from wfc.cli.observing import json_logs, setup_logs
from wfc.cli.task_modules import AnyTask, collect_tasks, tasks_in
from wfc.runtime import Engine, Observer
from wfc.runtime._urls import redact_url
from wfc.runtime._worker import Worker, WorkerStats
from wfc.runtime.store import is_postgres_url
from wfc.runtime.tracing import Tracing

if TYPE_CHECKING:
    from wfc.cli.metrics_http import MetricsServer
    from wfc.runtime.metrics import Metrics


@dataclass(frozen=True)
class MetricsOptions:
    """Where ``--metrics-port`` serves the worker's metrics."""

    port: int
    host: str
    token: str | None


class Say:
    """Where the worker's own messages go: the terminal (a status line, or a
    plain line per interval), or the JSON log (``--log-format json``)."""

    def __init__(self, console: Console, as_log: bool) -> None:
        self.console = console
        self._log = logging.getLogger("wfc.worker") if as_log else None

    @property
    def live(self) -> bool:
        """True when a status line can be kept on a terminal."""
        return self._log is None and self.console.is_terminal

    def line(self, text: str) -> None:
        """Say ``text``."""
        if self._log is not None:
            self._log.info("%s", text)
        else:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def warning(self, text: str) -> None:
        """Warn about ``text``."""
        if self._log is not None:
            self._log.warning("%s", text)
        else:
            output.print_warning(text)


def serve(
    url: str,
    task_targets: list[str],
    *,
    concurrency: int,
    grace: float,
    lease: float,
    poll: float,
    stats_every: float,
    log_format: LogFormat = LogFormat.TEXT,
    metrics_options: MetricsOptions | None = None,
    tracing: Tracing | None = None,
    retention: float | None = None,
) -> None:
    """Serve the database at ``url`` with the tasks of ``task_targets`` until
    SIGINT, SIGTERM or SIGHUP (see :func:`wfc.cli.exiting.stop_signals`),
    purging runs finished more than ``retention`` seconds ago."""
    tasks = load_tasks(task_targets)
    observers: list[Observer] = setup_logs(log_format)
    metrics, exposed = _metrics(metrics_options)
    if metrics is not None:
        observers.append(metrics)
    worker = Worker(
        url,
        tasks,
        concurrency=concurrency,
        grace=grace,
        lease_seconds=lease,
        poll_interval=poll,
        observers=observers,
        tracing=tracing,
        retention=retention,
    )
    say = Say(output.stdout(), json_logs(log_format))
    try:
        run_async(lambda: _serve(worker, say, [t.definition.name for t in tasks], stats_every, metrics, exposed))
    finally:
        if exposed is not None:
            exposed.close()


def _metrics(options: MetricsOptions | None) -> tuple[Metrics | None, MetricsServer | None]:
    """The metrics and their server (listening already, so a busy port is
    an error before the worker serves anything), if asked for."""
    if options is None:
        return None, None
    try:
        from wfc.cli.metrics_http import MetricsServer
        from wfc.runtime.metrics import Metrics
    except ImportError as exc:
        raise CliError(
            f"--metrics-port needs {getattr(exc, 'name', None) or 'prometheus_client'}, which is not installed; "
            f"install it with pip install 'wfc[metrics]'"
        ) from None
    metrics = Metrics()
    return metrics, MetricsServer(metrics, options.host, options.port, options.token)


def load_tasks(targets: list[str]) -> list[AnyTask]:
    """Every ``@task`` function in the targets' globals, once per name (as
    ``wfc run --tasks`` takes them: see :mod:`wfc.cli.task_modules`).

    Raises:
        CliError: a target does not import, defines no task, or two different
            functions share a task name.
    """
    modules = [import_target(target) for target in targets]
    for module, label in modules:
        if not tasks_in(module):
            raise CliError(
                f"{label} defines no @task function at module level; a worker runs the @task functions "
                f"(from wfc.runtime import task) of the modules given with --tasks"
            )
    return list(collect_tasks(modules))


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


async def _serve(
    worker: Worker,
    say: Say,
    names: list[str],
    stats_every: float,
    metrics: Metrics | None = None,
    exposed: MetricsServer | None = None,
) -> None:
    started = anyio.Event()

    def ready(engine: Engine) -> None:
        where = socket.gethostname()
        if metrics is not None:
            metrics.track(engine)
        scraped = f"; metrics at {exposed.url}" if exposed is not None else ""
        say.line(
            f"wfc worker {engine.engine_id[:8]} (pid {os.getpid()} on {where}) serving {', '.join(sorted(names))} "
            f"on {redact_url(engine.url)}, up to {worker.concurrency} at once{scraped}; "
            f"Ctrl-C, SIGTERM or SIGHUP (its terminal closing) stops it"
        )
        if not is_postgres_url(engine.url):
            say.warning(
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

        tg.start_soon(_watch_signals, worker, say)
        tg.start_soon(serve)
        await started.wait()
        await _report(worker, say, stats_every)
    if failures:
        raise failures[0]
    final = worker.stats()
    released = f"; released {final.running} unfinished attempt(s) to other workers" if final.running else ""
    say.line(
        f"wfc worker stopped after {final.elapsed:.1f}s: claimed {final.claimed}, completed {final.completed}, "
        f"failed {final.failed}{released}"
    )


async def _watch_signals(worker: Worker, say: Say) -> None:
    with anyio.open_signal_receiver(*stop_signals()) as signals:
        async for received in signals:
            name = signal.Signals(received).name
            if not worker.stopping:
                running = worker.stats().running
                say.line(
                    f"{name}: stopping; {running} running attempt(s) get up to {worker.grace:g}s to finish "
                    f"(send it again to release them now)"
                )
                worker.stop()
            else:
                say.line(f"{name}: releasing the running attempts now")
                worker.hurry()


async def _report(worker: Worker, say: Say, every: float) -> None:
    """Show the rates until the worker stops (this task is cancelled)."""
    rates = _Rates(worker.stats())
    if say.live:
        with Live(Text("starting", style="dim"), console=say.console, transient=True, refresh_per_second=4) as live:
            while True:
                await anyio.sleep(1.0)
                live.update(Text.assemble(("worker ", "dim"), rates.line(worker.stats())))
    else:
        while True:
            await anyio.sleep(every)
            say.line(f"wfc worker: {rates.line(worker.stats())}")
