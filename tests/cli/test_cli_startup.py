"""The command line starts fast because it is lazy: building it and printing
any help imports typer and rich, but not the runtime, the compiler, the DSL
(lark), asyncpg, anyio or the spec codec. Each command imports what it needs
when it runs, and the commands that only read runs import the engine's
reader and the store, not the engine. Pinned on what is imported, not on a
timing (speed lives in ``bench/``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._coercion import build_runtime_param

from wfc.cli import app
from wfc.cli.lean_typer import LightChecker, check_values_lightly, light_value
from wfc.cli.runs_cmd import StatusChoice
from wfc.cli.tasks_cmd import TaskStatusChoice
from wfc.runtime import RunStatus
from wfc.runtime.interpreter.state import UserTaskStatus

#: Packages (and their submodules) that ``wfc --help`` must not import.
HEAVY = (
    "lark", "asyncpg", "anyio", "msgspec", "wfc.runtime", "wfc.compiler", "wfc.dsl", "wfc.specs.codec",
    "starlette", "uvicorn", "wfc.server", "prometheus_client",
)

_PROBE = """
import json, sys
from wfc.cli import main
sys.argv = ["wfc", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def modules_after(*args: str) -> list[str]:
    """Every module imported by ``wfc ARGS`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True, text=True, timeout=60)
    assert "\nMODULES " in done.stderr, done.stderr
    marker = done.stderr.rindex("\nMODULES ")
    return list(json.loads(done.stderr[marker + len("\nMODULES "):]))


def heavy(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == top or name.startswith(top + ".") for top in HEAVY)]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["runs", "list", "--help"],
        ["event", "send", "--help"],
        ["tasks", "--help"],
        ["tasks", "complete", "--help"],
        ["worker", "--help"],
        ["server", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    modules = modules_after(*args)
    assert "wfc.cli.app" in modules  # the probe did build the command line
    assert heavy(modules) == []


def test_help_leaves_out_the_modules_of_writing_files() -> None:
    """``tempfile`` (with hashlib) serves only commands that write files; it
    is imported there. (``json`` is left out too, but the probe needs it.)"""
    assert "tempfile" not in modules_after("--help")


def test_a_command_still_imports_what_it_needs() -> None:
    """The probe can see a heavy import: running ``wfc validate`` decodes a spec."""
    assert "wfc.specs.codec" in modules_after("validate", "no-such-spec.json")


def test_the_status_choices_are_the_run_statuses() -> None:
    assert [choice.value for choice in StatusChoice] == [status.value for status in RunStatus]


def test_the_task_status_choices_are_the_user_task_statuses() -> None:
    assert [choice.value for choice in TaskStatusChoice] == [status.value for status in UserTaskStatus]


# ---------------------------------------------------------------- what typer would import for nothing


def test_runs_list_does_not_import_pydantic(tmp_path: Path) -> None:
    """Typer checks values with pydantic; the light checker answers for the
    values of a plain ``wfc runs list`` (and of the root's options)."""
    db = f"sqlite:///{tmp_path / 'none.db'}"  # missing: the command fails after parsing, which is all we look at
    modules = modules_after("runs", "list", "--db", db, "--limit", "5", "--workflow", "w")
    assert "wfc.cli.runs_cmd" in modules
    assert [name for name in modules if name.split(".")[0] == "pydantic"] == []


def test_runs_list_reads_the_migrations_without_importlib_resources(tmp_path: Path) -> None:
    """Opening the store checks the schema against the migration files; read
    next to the module, not through ``importlib.resources`` (and zipfile)."""
    import anyio

    from wfc.runtime import Engine

    async def create() -> None:
        async with Engine.open(db, serve=False):
            pass

    db = f"sqlite:///{tmp_path / 'runs.db'}"
    anyio.run(create)
    modules = modules_after("runs", "list", "--db", db)
    assert "wfc.runtime.store.schema" in modules
    assert [name for name in modules if name.startswith("importlib.resources") or name == "zipfile"] == []


#: What an engine imports and a command that only reads must not: the
#: commit loop, task attempts, the interpreter's transitions, anyio's backend.
ENGINE_ONLY = (
    "wfc.runtime._engine", "wfc.runtime._loop", "wfc.runtime._turn", "wfc.runtime._attempts", "wfc.runtime._tasks",
    "wfc.runtime._worker", "wfc.runtime.interpreter.transitions", "wfc.runtime.interpreter.walk", "anyio._backends",
)  # fmt: skip


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A database holding one finished run, and the run's id."""
    import anyio

    from wfc.dsl import Workflow, WorkflowThread
    from wfc.runtime import Engine

    def hello(wf: WorkflowThread) -> None:
        wf.declare_str("name").required()

    async def create() -> str:
        async with Engine.open(db, poll_interval=0.05) as engine:
            await engine.deploy(Workflow("hello", hello).compile())
            run_id = await engine.start("hello", {"name": "ada"})
            await engine.wait(run_id, timeout=30)
            return run_id

    db = f"sqlite:///{tmp_path_factory.mktemp('one-run') / 'runs.db'}"
    return db, anyio.run(create)


@pytest.mark.parametrize("command", ["list", "show", "history", "list --json"])
def test_reading_runs_imports_none_of_the_engine(command: str, one_run: tuple[str, str]) -> None:
    """``wfc runs list/show/history`` read through the engine's Reader over
    the store alone, on asyncio's runner: not the engine around it."""
    db, run_id = one_run
    verb, *flags = command.split()
    args = ["runs", verb, *([run_id] if verb != "list" else []), *flags, "--db", db]
    modules = modules_after(*args)
    assert "wfc.runtime._reader" in modules and "wfc.runtime.store.sqlite" in modules  # it did read
    assert [m for m in modules if any(m == e or m.startswith(e + ".") for e in ENGINE_ONLY)] == []


@pytest.fixture(scope="module")
def one_task(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A database holding a run waiting at a user task, and the task's id."""
    sys.path.insert(0, str(Path(__file__).parent))
    from task_helpers import start_reviews

    db = f"sqlite:///{tmp_path_factory.mktemp('one-task') / 'tasks.db'}"
    return db, start_reviews(db, {"r-1": "ann"})["r-1"]


@pytest.mark.parametrize("command", ["list", "show", "list --json", "show --json"])
def test_reading_user_tasks_imports_none_of_the_engine(command: str, one_task: tuple[str, str]) -> None:
    """``wfc tasks list/show`` read through the Reader too."""
    db, task_id = one_task
    verb, *flags = command.split()
    args = ["tasks", verb, *([task_id] if verb == "show" else []), *flags, "--db", db]
    modules = modules_after(*args)
    assert "wfc.cli.tasks_cmd" in modules and "wfc.runtime._user_tasks" in modules  # it did read
    assert [m for m in modules if any(m == e or m.startswith(e + ".") for e in ENGINE_ONLY)] == []


def test_the_runs_table_skips_rich_s_emoji_codes(one_run: tuple[str, str]) -> None:
    """Its cells are Text: a str cell would be searched for ``:emoji:``
    codes, and the times in it would load rich's table of them."""
    db, _ = one_run
    assert "rich._emoji_codes" not in modules_after("runs", "list", "--db", db)


def test_the_migrations_read_from_files_are_those_importlib_resources_finds() -> None:
    from importlib import resources

    from wfc.runtime.store.schema import migrations

    for dialect in ("sqlite", "postgres"):
        folder = resources.files("wfc.runtime.store").joinpath("migrations", dialect)
        expected = sorted((e.name, e.read_text(encoding="utf-8")) for e in folder.iterdir() if e.name.endswith(".sql"))
        assert [(f"{m.version:04d}_{m.name}.sql", m.sql) for m in migrations(dialect)] == expected


def test_a_value_typer_refuses_still_goes_to_typer() -> None:
    """The probe sees pydantic when typer's own checker is needed."""
    assert "pydantic" in modules_after("runs", "list", "--limit", "0")
    assert "pydantic" in modules_after("runs", "list", "--status", "running")


@pytest.mark.parametrize(
    "args",
    [["--help"], ["runs", "list", "--help"], ["runs", "list", "--limit", "0"], ["no-such-command"]],
    ids=" ".join,
)
def test_help_and_usage_errors_skip_markdown_and_pygments(args: list[str]) -> None:
    modules = modules_after(*args)
    assert "typer.rich_utils" in modules  # typer did format the help or the error
    assert [name for name in modules if name.split(".")[0] in ("markdown_it", "pygments")] == []
    assert "rich.markdown" not in modules and "rich.traceback" not in modules


_AS_TYPER_PRINTS = """
import json, sys
if sys.argv[2] == "typer":
    import rich.markdown, rich.traceback  # imported already: typer.rich_utils takes the real ones
from wfc.cli import main
sys.argv = ["wfc", *json.loads(sys.argv[1])]
main()
"""


def _printed(args: list[str], how: str) -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": "100", "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-c", _AS_TYPER_PRINTS, json.dumps(args), how],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["runs", "--help"],
        ["runs", "list", "--help"],
        ["run", "--help"],
        ["worker", "--help"],
        ["runs", "list", "--limit", "0"],
        ["runs", "list", "--status", "nope"],
        ["no-such-command"],
    ],
    ids=" ".join,
)
def test_help_and_errors_print_what_typer_prints(args: list[str]) -> None:
    """With the stand-ins, help and usage errors are byte for byte what typer
    prints with the real ``rich.markdown`` and ``rich.traceback`` (in colour)."""
    lean = _printed(args, "lean")
    assert lean == _printed(args, "typer")
    assert lean[1] or lean[2]


def test_a_stand_in_becomes_the_real_class_when_used() -> None:
    probe = """
import sys
from wfc.cli import app  # installs the finder
import typer.rich_utils as ru
assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
made = ru.Markdown("# title")
import rich.markdown, rich.traceback
assert type(made) is rich.markdown.Markdown and isinstance(made, ru.Markdown)
try:
    raise ValueError("boom")
except ValueError as exc:
    trace = ru.Traceback.from_exception(type(exc), exc, exc.__traceback__)
assert type(trace) is rich.traceback.Traceback
assert sys.modules["rich.markdown"] is rich.markdown and hasattr(rich.markdown, "MarkdownIt")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def _all_params() -> list[tuple[str, Any]]:
    """Every typer parameter of the command line (help options included)."""
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(command: Any, path: str) -> None:
        params = list(command.params)
        helper = command.get_help_option(typer.Context(command, info_name=path))
        if helper is not None:
            params.append(helper)
        found.extend((f"{path} {param.name}", param) for param in params if hasattr(param, "type_descriptor"))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(root, "wfc")
    return found


#: Values a command line may give, as the parser hands them on.
_VALUES: list[Any] = [
    None, "", "x", "sqlite:///wfc.db", "0", "1", "5", "50", "007", "-1", " 5", "5 ", "+5", "1_000", "1e3", "5.0",
    "\u0663", "99999999999999999999", "caf\u00e9", "x\udcff", 0, 1, 5, -3, True, False, 2.5, (), ("a",),
    ("RUNNING",), ["running", "FAILED"], ("1", "2"),
]  # fmt: skip


def _outcome(checker: Any, value: Any, param: Any, ctx: Any) -> tuple[str, Any]:
    try:
        return "value", checker.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # typer's refusal, compared by its type and message
        return "error", (type(exc).__name__, str(exc))


@pytest.mark.parametrize(("where", "param"), _all_params(), ids=lambda p: p if isinstance(p, str) else "")
def test_the_light_checker_answers_as_typer_does(where: str, param: Any) -> None:
    """For every parameter of every command and each value, the light checker
    gives what typer's pydantic checker gives (or refuses it the same way)."""
    ctx = typer.Context(typer.main.get_command(app), info_name="wfc")
    for value in _VALUES:
        light = _outcome(LightChecker(), value, param, ctx)
        typers = _outcome(build_runtime_param(param.type_descriptor), value, param, ctx)
        assert light == typers, (where, value)
        assert type(light[1]) is type(typers[1]), (where, value)


def test_the_light_checker_decides_the_common_values_itself() -> None:
    """The comparison above would pass if it always asked typer: pin what it answers alone."""
    params = dict(_all_params())
    limit, db, status = params["wfc runs list limit"], params["wfc runs list db"], params["wfc runs list status"]
    assert light_value("50", limit) == 50 and light_value(50, limit) == 50
    assert light_value("sqlite:///x.db", db) == "sqlite:///x.db"
    assert light_value(None, status) == () and light_value(None, db) is None
    undecided = light_value("0", limit)  # below --limit's minimum: typer says why
    assert undecided is not None and undecided != 0


def test_every_command_gets_the_light_checker() -> None:
    root = typer.main.get_command(app)
    check_values_lightly(root)
    runs = root.commands["runs"]  # type: ignore[attr-defined]
    listing = runs.commands["list"]
    params = listing.get_params(typer.Context(listing, info_name="list"))
    assert params and all(isinstance(param._runtime_param, LightChecker) for param in params)


def test_command_annotations_are_evaluated_at_import() -> None:
    """Typer reads every command's annotations when it builds the command
    line; given as strings (``from __future__ import annotations``) each is
    compiled again then, which tripled the time to build it. So the command
    modules leave that import out."""

    def callbacks(target: typer.Typer) -> list[Any]:
        found = [info.callback for info in target.registered_commands]
        if target.registered_callback is not None:
            found.append(target.registered_callback.callback)
        for group in target.registered_groups:
            assert group.typer_instance is not None
            found += callbacks(group.typer_instance)
        return found

    functions = callbacks(app)
    assert len(functions) > 10
    strings = {f"{f.__module__}.{f.__name__}": name for f in functions for name, a in f.__annotations__.items()
               if isinstance(a, str)}  # fmt: skip
    assert strings == {}


def test_the_collector_is_off_while_parsing_and_back_on_in_the_command() -> None:
    """Off while ``main`` builds and parses the command line (a subcommand's
    options too), on (over a frozen heap) once the command runs, and as
    found after ``main``."""
    probe = """
import gc, sys
import typer
import wfc.cli
from wfc.cli import app, main
assert gc.isenabled(), "importing wfc.cli leaves the collector as it found it"

def seen(value: str) -> str:
    print("parsing", gc.isenabled())
    return value

@app.command("probe")
def probe(name: str = typer.Option("x", callback=seen)) -> None:
    print("command", gc.isenabled(), gc.get_freeze_count() > 0)

sys.argv = ["wfc", "probe", "--name", "y"]
try:
    main()
except SystemExit as done:
    print("exit", done.code, gc.isenabled())
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split("\n")[:3] == ["parsing False", "command True True", "exit 0 True"], done.stderr
