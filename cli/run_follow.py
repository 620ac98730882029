"""What ``wfc run`` does once its options are parsed: deploy the workflow,
start or find the run, and follow it to the end (see :mod:`wfc.cli.run_cmd`)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from rich.text import Text

from wfc.cli import output
from wfc.cli.engine_access import run_async, wfc_command
from wfc.cli.errors import CliError
from wfc.cli.exiting import CONFLICT
from wfc.cli.inputs import describe_variables, parse_inputs
from wfc.cli.progress import follow, progress_view
from wfc.cli.run_views import engine_wait, waits_for_engine, where_now
from wfc.cli.sources import Source, load_source
from wfc.cli.summary import print_summary, where_message
from wfc.runtime import (
    ConflictError,
    Engine,
    InputError,
    MissingTasksError,
    Observer,
    RunInfo,
    RunStatus,
    UnknownRunError,
    UnknownWorkflowError,
)
from wfc.runtime._urls import redact_url
from wfc.runtime.tracing import Tracing
from wfc.specs import WorkflowSpec

#: Exit code after Ctrl-C, as shells report SIGINT.
INTERRUPTED = 130


@dataclass
class Request:
    """What the user asked ``wfc run`` for."""

    target: str
    task_targets: list[str]
    url: str
    run_id: str | None
    detach: bool
    timeout: float | None
    started: str | None = None
    """The run id, once the run exists (for the Ctrl-C message)."""
    tracing: Tracing | None = None
    """Export OpenTelemetry spans (``--otel``)."""
    observers: list[Observer] = field(default_factory=list)
    """Told about every commit of the engine (``--log-format json``)."""

    @property
    def shown_url(self) -> str:
        """The database URL as messages show it: without its password."""
        return redact_url(self.url)

    def resume_command(self, run_id: str) -> str:
        """The command that serves the database and follows this run."""
        words = ["run", self.target]
        for extra in self.task_targets:
            words += ["--tasks", extra]
        return wfc_command(*words, "--run-id", run_id, url=self.url)

    def worker_command(self, task_modules: Sequence[str]) -> str:
        """The command that serves every run of the database with the tasks
        of ``task_modules`` (a module without any would be refused)."""
        words = ["worker"]
        for module in task_modules:
            words += ["--tasks", module]
        return wfc_command(*words, url=self.url)


def run_workflow(request: Request, workflow: str | None, inputs: list[str], input_json: str | None) -> int:
    """Deploy, start (or find) and follow the run ``request`` asks for; returns the exit code."""
    source = load_source(request.target, workflow, request.task_targets)
    values = parse_inputs(source.spec.name, source.spec.variables, inputs, input_json)
    try:
        return run_async(lambda: _run(request, source, values, given=bool(inputs) or input_json is not None))
    except KeyboardInterrupt:
        _report_stopped(request, "interrupted")
        return INTERRUPTED
    except output.OutputError as exc:
        _report_stopped(request, str(exc))
        return 1
    except ConflictError as exc:
        _report_conflict(request, exc)
        return CONFLICT


async def _run(request: Request, source: Source, values: dict[str, Any], *, given: bool) -> int:
    async with Engine.open(
        request.url, tasks=source.tasks, serve=not request.detach, tracing=request.tracing, observers=request.observers
    ) as engine:
        spec = await _deploy(engine, source)
        existing = await _existing_run(engine, request.run_id, spec.name)
        # An existing run is followed as it is; inputs given with its id must
        # be the ones it started with, which ``start`` checks (ConflictError).
        if existing is None or given:
            try:
                new_id = request.run_id if request.run_id is not None else await _new_run_id(engine, spec.name)
                run_id = await engine.start(spec.name, values, run_id=new_id, version=spec.version)
            except InputError as exc:
                raise _input_error(exc, spec) from None
            except MissingTasksError as exc:
                raise source.missing_tasks(exc) from None
        else:
            run_id = existing.id
        request.started = run_id
        if request.detach:
            # This client serves nothing: any engine counted is another process.
            info = await engine.get_run(run_id)
            served = await engine.serving_engines() > 0
            _report_detached(request, info, source.task_modules, existed=existing is not None, served=served)
            return 0
        return await _follow(engine, request, run_id, resumed=existing is not None)


async def _deploy(engine: Engine, source: Source) -> WorkflowSpec:
    """Deploy the workflow, versioned against the latest deployed spec."""
    try:
        previous: WorkflowSpec | None = await engine.get_spec(source.spec.name)
    except UnknownWorkflowError:
        previous = None
    spec = source.versioned(previous)
    try:
        await engine.deploy(spec)
    except MissingTasksError as exc:
        raise source.missing_tasks(exc) from None
    return spec


async def _existing_run(engine: Engine, run_id: str | None, workflow: str) -> RunInfo | None:
    """The run ``--run-id`` names, if it exists and runs this workflow (a run
    of another workflow is left to ``start``, which refuses the id)."""
    if run_id is None:
        return None
    try:
        info = await engine.get_run(run_id)
    except UnknownRunError:
        return None
    return info if info.workflow == workflow else None


async def _follow(engine: Engine, request: Request, run_id: str, *, resumed: bool) -> int:
    console = output.stdout()
    info = await engine.get_run(run_id)
    verb = "following run" if resumed else "started run"
    console.print(
        Text(f"{verb} {run_id} ({info.workflow} {info.version}) on {request.shown_url}", style="dim"), soft_wrap=True
    )
    served_elsewhere = await engine.serving_engines() > 1  # this process is one of them
    if resumed and not info.status.finished:
        if waits_for_engine(info, served_elsewhere):
            console.print(
                Text(f"  it was {engine_wait(info)}; this process serves it now", style="dim"), soft_wrap=True
            )
        console.print(Text(f"  now {where_now(info)}", style="dim"), soft_wrap=True)
    timed_out = False
    if not info.status.finished:
        # A run followed again shows what happens from now on, not its past again.
        seen = (await engine.history(run_id))[-1].seq if resumed else 0
        with anyio.move_on_after(request.timeout) as scope, progress_view(console, info) as view:
            await follow(engine, run_id, view, after=seen)
        timed_out = scope.cancelled_caught
    info = await engine.get_run(run_id)
    if timed_out and not info.status.finished:
        why = f"stopped following after {request.timeout:g}s"
        message = where_message(info, why, request.url, request.resume_command(run_id))
        if waits_for_engine(info, served_elsewhere):
            message += "; no other engine serves this database, so once this process exits the run waits for one"
        output.print_error(message)
        return 1
    print_summary(console, info, await engine.history(run_id), request.url)
    return 0 if info.status is RunStatus.COMPLETED else 1


async def _new_run_id(engine: Engine, workflow: str) -> str:
    """A run id people can read and type, ``payment-5c0e1f2a9b3d``, not used
    yet (``start`` would take a used one for an idempotent repeat)."""
    from wfc.runtime._arguments import MAX_NAME_LENGTH

    prefix = workflow[: MAX_NAME_LENGTH - 13]  # a long workflow name still leaves room for "-" and 12 hex digits
    while True:
        run_id = f"{prefix}-{secrets.token_hex(6)}"
        try:
            await engine.get_run(run_id)
        except UnknownRunError:
            return run_id


def _input_error(exc: InputError, spec: WorkflowSpec) -> CliError:
    missing = [name for name, reason in exc.problems if "missing" in reason]
    example = " ".join(f"--input {name}=VALUE" for name in missing) or "--input NAME=VALUE"
    return CliError(
        f"{exc}. Give inputs with {example} (or --input-json FILE); "
        f"the variables of {spec.name!r} are {describe_variables(spec.variables)}"
    )


def _report_detached(
    request: Request, info: RunInfo, task_modules: Sequence[str], *, existed: bool, served: bool
) -> None:
    run_id = info.id
    what = f"run {run_id} ({info.workflow} {info.version}) on {request.shown_url}"
    check = f"Check it with `{wfc_command('runs', 'show', run_id, url=request.url)}`"
    if info.status.finished:
        # A new run too, when an engine elsewhere finished it before it was read back.
        when = "exists already and has finished" if existed else "was started and has finished already"
        message = f"{what} {when}: {info.status.value}. {check}"
    else:
        now = (
            "Another engine serves this database now."
            if served
            else "No engine serves this database now: it waits for one."
        )
        message = (
            f"{'found' if existed else 'started'} {what} without running it here. {now} It continues when an "
            f"engine serving this database runs: `{request.resume_command(run_id)}` resumes and follows it"
        )
        if task_modules:
            message += (
                f", and `{request.worker_command(task_modules)}` serves every run of the database (any `wfc run` "
                f"on it also resumes, while it is open, the unfinished runs whose tasks it has)"
            )
        message += f". {check}"
    try:
        output.echo(run_id)  # alone on stdout, for RUN=$(wfc run ... --detach)
    finally:  # also when standard output cannot be written: the message names the run
        output.stderr().print(message, soft_wrap=True, markup=False)


def _report_conflict(request: Request, exc: ConflictError) -> None:
    run_id = request.run_id
    hint = f"; see that run with `{wfc_command('runs', 'show', run_id, url=request.url)}`" if run_id else ""
    output.print_error(f"{exc}{hint}")


def _report_stopped(request: Request, why: str) -> None:
    """``wfc run`` stopped following its run early (``why``: interrupted,
    its output cannot be written): where the run is, on standard error."""
    if request.started is None:
        output.print_error(
            f"{why} before the run was known to start; look for it with "
            f"`{wfc_command('runs', 'list', url=request.url)}`"
        )
        return
    run_id = request.started
    output.print_error(
        f"{why}: stopped following run {run_id}. The run is durable: it is stored in {request.shown_url} and "
        f"continues when an engine serving the database runs (e.g. `{request.resume_command(run_id)}`); "
        f"check it with `{wfc_command('runs', 'show', run_id, url=request.url)}`"
    )
