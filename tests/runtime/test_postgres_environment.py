"""The PostgreSQL store in a hostile environment: another session's locks,
a bad pool size, a password with unescaped special characters, a schema
name with a typo. Each ends in a clear error that says what is wrong and
what to do (never a hang, a traceback or a printed password), and nothing
stored is lost or created by mistake.

The tests that need a server use ``WFC_TEST_POSTGRES_URL`` (each in a
schema of its own, dropped afterwards) and skip without it; those of URLs
and settings run everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import pytest
from rtdb import Db, held
from rtspec import exit_, out, spec, task, wait
from typer.testing import CliRunner, Result

from wfc.cli import app
from wfc.runtime import Engine, RunStatus
from wfc.runtime import task as wfc_task
from wfc.runtime._urls import redact_url
from wfc.runtime.errors import DatabaseLockedError, DatabaseUrlError, StoreError
from wfc.runtime.store import RunFilter, open_store
from wfc.runtime.store.postgres_setup import parse_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: ``wfc run`` of the currency exchange, which waits for an event: the run stays RUNNING.
EXCHANGE = [
    "run", str(EXAMPLES / "currency_exchange.py"), "--tasks", str(EXAMPLES / "currency_exchange_tasks.py"),
    "-i", "transfer-id=t-1", "-i", "source-account=acc-1", "-i", "target-account=acc-2", "-i", "amount=250",
    "-i", "source-currency=EUR", "-i", "target-currency=GBP",
]  # fmt: skip


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """``wfc ARGS...`` in this process."""
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "WFC_DEBUG": None, **(env or {})})
    return runner.invoke(app, list(args))


def wfc(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``wfc ARGS...`` in a process of its own: one that hangs fails the
    test at ``timeout`` rather than hanging it."""
    command = [sys.executable, "-c", "from wfc.cli import main; main()", *args]
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    environment.pop("WFC_DEBUG", None)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def schema_exists(pg: Db, name: str) -> bool:
    return bool(pg.rows(f"SELECT 1 FROM pg_namespace WHERE nspname = '{name}'"))


def test_the_lock_wait_is_ten_seconds_unless_the_url_or_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WFC_PG_LOCK_TIMEOUT", raising=False)
    target = parse_url("postgresql://app@db/shop")
    assert target is not None and target.lock_timeout == 10 and target.settings()["lock_timeout"] == "10000"
    monkeypatch.setenv("WFC_PG_LOCK_TIMEOUT", "2.5")
    target = parse_url("postgresql://app@db/shop")
    assert target is not None and target.settings()["lock_timeout"] == "2500"
    target = parse_url("postgresql://app@db/shop?sslmode=disable&lock_timeout=0")
    # 0 s is "do not wait", as SQLite's busy_timeout=0 (PostgreSQL's own 0 would wait for ever).
    assert target is not None and target.lock_timeout == 0 and target.settings()["lock_timeout"] == "1"
    assert target.dsn == "postgresql://app@db/shop?sslmode=disable"  # wfc's parameter, in seconds: not passed on
    for bad in ("abc", "-1", "nan", "86401"):
        with pytest.raises(DatabaseUrlError, match=rf"\?lock_timeout={bad} is not a number of seconds between 0 and"):
            parse_url(f"postgresql://app@db/shop?lock_timeout={bad}")
    monkeypatch.setenv("WFC_PG_LOCK_TIMEOUT", "soon")
    with pytest.raises(DatabaseUrlError, match=r"WFC_PG_LOCK_TIMEOUT=soon is not a number of seconds"):
        parse_url("postgresql://app@db/shop")


@pytest.mark.anyio
async def test_a_read_waits_a_bounded_time_for_a_table_lock_then_says_the_database_is_locked(pg: Db) -> None:
    store = await open_store(f"{pg.url}&lock_timeout=0.5", time.time())
    try:
        async with held(pg, "LOCK TABLE {schema}.runs IN ACCESS EXCLUSIVE MODE"):
            with anyio.fail_after(20), pytest.raises(DatabaseLockedError) as caught:
                await store.list_runs(RunFilter())
        message = str(caught.value)
        assert "locked by another process" in message and "for more than 0.5 s" in message
        assert "?lock_timeout=SECONDS" in message and "WFC_PG_LOCK_TIMEOUT" in message
        assert caught.value.waited == 0.5
        assert await store.list_runs(RunFilter()) == []  # the lock gone, the store reads again
    finally:
        await store.close()


def test_commands_end_with_a_clear_error_while_another_session_locks_the_runs_table(pg: Db) -> None:
    started = wfc(*EXCHANGE, "--run-id", "fx-1", "--detach", "--db", pg.url)
    assert started.returncode == 0, started.stderr
    quick = {"WFC_PG_LOCK_TIMEOUT": "1"}

    async def under_lock() -> list[subprocess.CompletedProcess[str]]:
        async with held(pg, "LOCK TABLE {schema}.runs IN ACCESS EXCLUSIVE MODE"):
            return [
                await asyncio.to_thread(wfc, *args, "--db", pg.url, env=quick)
                for args in (["runs", "list"], ["runs", "cancel", "fx-1"], [*EXCHANGE, "--run-id", "fx-2"])
            ]

    for done in asyncio.run(under_lock()):
        assert done.returncode == 1, done
        assert "it is locked by another process" in done.stderr and "WFC_PG_LOCK_TIMEOUT" in done.stderr
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert pg.rows("SELECT id, status FROM runs") == [("fx-1", "RUNNING")]  # nothing lost, nothing half done


def test_cancel_ends_with_a_clear_error_while_another_session_holds_the_run_row(pg: Db) -> None:
    assert wfc(*EXCHANGE, "--run-id", "fx-1", "--detach", "--db", pg.url).returncode == 0

    async def under_lock() -> subprocess.CompletedProcess[str]:
        async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'fx-1' FOR UPDATE"):
            return await asyncio.to_thread(
                wfc, "runs", "cancel", "fx-1", "--db", pg.url, env={"WFC_PG_LOCK_TIMEOUT": "1"}
            )

    refused = asyncio.run(under_lock())
    assert refused.returncode == 1 and "it is locked by another process" in refused.stderr, refused
    assert pg.rows("SELECT status FROM runs WHERE id = 'fx-1'") == [("RUNNING",)]
    cancelled = wfc("runs", "cancel", "fx-1", "--db", pg.url)  # the row free again: it goes through
    assert cancelled.returncode == 0, cancelled.stderr
    assert pg.rows("SELECT status FROM runs WHERE id = 'fx-1'") == [("CANCELLED",)]


gate: asyncio.Event | None = None


@wfc_task("locked-out-step")
async def locked_out_step(n: int) -> int:
    assert gate is not None
    await gate.wait()
    return n + 1


LOCKED_OUT = spec("locked-out", [("go", wait("go")), ("step", task("locked-out-step", 1)), ("end", exit_(out("step")))])


@pytest.mark.anyio
async def test_a_serving_engine_retries_a_commit_that_a_row_lock_held_up_past_the_wait(
    pg: Db, caplog: pytest.LogCaptureFixture
) -> None:
    global gate
    gate = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="wfc.runtime")
    async with Engine.open(f"{pg.url}&lock_timeout=0.3", [locked_out_step], poll_interval=0.05) as engine:
        await engine.deploy(LOCKED_OUT)
        await engine.start("locked-out", run_id="r-1")
        await engine.send_event("go", run_id="r-1")
        async with held(pg, "SELECT * FROM {schema}.runs WHERE id = 'r-1' FOR UPDATE"):
            gate.set()  # the task's result cannot be committed while the row is held
            with anyio.fail_after(20):
                while "lock" not in caplog.text:
                    await anyio.sleep(0.05)
            await anyio.sleep(1)  # several waits run out meanwhile; the engine goes on
        with anyio.fail_after(20):
            info = await engine.wait("r-1")
    assert info.status is RunStatus.COMPLETED and info.output == 2


# ---------------------------------------------------------------- 2. WFC_PG_POOL_SIZE


@pytest.mark.parametrize("value", ["abc", "2.5", "0", "-1", "101"])
def test_a_pool_size_that_is_not_a_number_of_connections_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WFC_PG_POOL_SIZE", value)
    with pytest.raises(DatabaseUrlError, match=rf"WFC_PG_POOL_SIZE={value} is not a whole number of connections "
                                               rf"between 1 and 100; e\.g\. 4"):  # fmt: skip
        parse_url("postgresql://app@db/shop")
    done = invoke("runs", "list", "--db", "postgresql://nobody@127.0.0.1:1/app", env={"WFC_PG_POOL_SIZE": value})
    assert done.exit_code == 1 and f"WFC_PG_POOL_SIZE={value} is not a whole number" in done.output
    assert "internal error" not in done.output


def test_the_pool_size_is_four_unless_the_environment_says_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFC_PG_POOL_SIZE", "")  # empty, as unset (like WFC_SQLITE_BUSY_TIMEOUT)
    target = parse_url("postgresql://app@db/shop")
    assert target is not None and target.pool_size == 4
    monkeypatch.setenv("WFC_PG_POOL_SIZE", " 7 ")
    target = parse_url("postgresql://app@db/shop")
    assert target is not None and target.pool_size == 7


# ---------------------------------------------------------------- 3. passwords with special characters


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://app:top/secret@127.0.0.1:5432/test", ["top", "secret"]),
        ("postgresql://app:pa#ss@127.0.0.1:5432/test", ["pa#ss", "'pa'", "#ss"]),
        ("postgresql://postgres:p@ss:w/d@127.0.0.1:5432/test", ["p@ss", "ss:w", "'w'", "w/d"]),
        ("postgresql://app:hunter2@secret@127.0.0.1/test", ["hunter2", "secret"]),
        ("postgresql://app:pa?ss@127.0.0.1/test", ["pa?ss", "'pa'", "ss@"]),
    ],
)
def test_a_password_with_unescaped_special_characters_is_named_and_never_shown(url: str, secrets: list[str]) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        parse_url(url)
    done = invoke("runs", "list", "--db", url)
    assert done.exit_code == 1 and "internal error" not in done.output
    for message in (str(caught.value), done.output, redact_url(url)):
        assert not any(secret in message for secret in secrets), message
    for message in (str(caught.value), done.output):
        assert "must be percent-encoded" in message and "%2F" in message and "%23" in message, message
        assert "%40" in message and "%3A" in message and "@127.0.0.1" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # An "@" in the query is a parameter's: the address parsed cleanly.
        ("postgresql://app:pw@db:5432/shop?options=a@b", "postgresql://app:***@db:5432/shop?options=a@b"),
        ("postgresql://app:p%2Fw@db/shop", "postgresql://app:***@db/shop"),
        ("postgresql://app:top/secret@db/shop", "postgresql://app:***@db/shop"),
        ("cannot use postgresql://app:pa#ss@db/shop: refused", "cannot use postgresql://app:***@db/shop: refused"),
    ],
)
def test_redaction_hides_a_password_whatever_it_holds(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert redact_url(shown) == shown


def test_an_at_sign_in_the_query_of_a_clean_url_is_not_taken_for_a_password() -> None:
    target = parse_url("postgresql://app:p%40ss@db:5432/shop?application_name=a@b")
    assert target is not None and target.location == "postgresql://app:***@db:5432/shop?application_name=a@b"


# ---------------------------------------------------------------- 4. a schema name with a typo


@pytest.mark.parametrize(
    "args",
    [["runs", "list"], ["workers"], ["runs", "show", "r-1"], ["runs", "history", "r-1"], ["runs", "cancel", "r-1"]],
)
def test_commands_that_read_or_steer_refuse_a_missing_schema_and_create_nothing(pg: Db, args: list[str]) -> None:
    assert pg.schema is not None
    done = invoke(*args, "--db", pg.url)
    assert done.exit_code == 1, done.output
    database = urlsplit(pg.url).path.lstrip("/")
    assert f"database {database!r} has no wfc schema {pg.schema!r}" in done.output
    assert "does not create one" in done.output and "`wfc run`" in done.output
    assert not schema_exists(pg, pg.schema)


@pytest.mark.anyio
async def test_opening_to_read_or_as_a_client_leaves_a_missing_or_empty_schema_as_it_is(pg: Db) -> None:
    assert pg.schema is not None
    for options in ({"read_only": True}, {"create": False}):
        with pytest.raises(StoreError, match=rf"has no wfc schema '{pg.schema}'"):
            await open_store(pg.url, time.time(), **options)  # type: ignore[arg-type]
    assert not schema_exists(pg, pg.schema)
    pg.execute(f'CREATE SCHEMA "{pg.schema}"')
    with pytest.raises(StoreError, match=rf"has no wfc schema '{pg.schema}'"):
        await open_store(pg.url, time.time(), read_only=True)
    assert pg.rows(f"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   f"WHERE n.nspname = '{pg.schema}'") == [(0,)]  # fmt: skip


def test_commands_that_write_still_create_the_schema(pg: Db) -> None:
    assert pg.schema is not None
    started = wfc(*EXCHANGE, "--run-id", "fx-1", "--detach", "--db", pg.url)
    assert started.returncode == 0, started.stderr
    assert schema_exists(pg, pg.schema)
    listed = invoke("runs", "list", "--db", pg.url)
    assert listed.exit_code == 0 and "fx-1" in listed.output
