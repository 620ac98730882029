"""Every CLI verb that acts on a database has an endpoint; ``wfc server``
refuses unsafe settings and a missing extra with a clear message."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from wfc.cli import app
from wfc.server._endpoints import ENDPOINTS

WFC = Path(sys.executable).with_name("wfc")

#: Verbs without an endpoint, and why.
NOT_REMOTE = {
    "compile": "compiles local Python files to spec files; specs reach a server by deploying them",
    "validate": "checks local spec files",
    "worker": "runs tasks in its own process; it is not a request",
    "server": "is the server itself",
    "replay": "replays stored journals against a local spec file before a deploy (CI); it reads and writes nothing",
    "migrate plan": "a read-only plan over the database for the operator, written to a file to review",
    "migrate apply": "an operator's batch job over a reviewed plan file, run where the file is; it can take "
    "minutes for many runs (longer than a request) and is safe to run again after a crash",
}


def cli_verbs(command: object = None, prefix: str = "") -> list[str]:
    """Every leaf command of the CLI, e.g. ``runs cancel``, from typer's command list."""
    group = get_command(app) if command is None else command
    verbs: list[str] = []
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        if getattr(sub, "commands", None):
            verbs.extend(cli_verbs(sub, f"{prefix}{name} "))
        else:
            verbs.append(prefix + name)
    return verbs


def test_every_cli_verb_has_an_endpoint_or_a_reason() -> None:
    served = {verb for endpoint in ENDPOINTS for verb in endpoint.cli}
    verbs = cli_verbs()
    assert "runs cancel" in verbs and "event send" in verbs  # the walk sees the groups
    missing = [v for v in verbs if v not in served and v not in NOT_REMOTE]
    assert not missing, f"CLI verbs without an endpoint: {missing}"
    assert not (served - set(verbs)), "endpoints name CLI verbs that do not exist"
    assert not (set(NOT_REMOTE) - set(verbs)), "exemptions for verbs that do not exist"


def test_a_non_loopback_bind_without_a_token_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(WFC), "server", "--db", str(tmp_path / "x.db"), "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert done.returncode == 1
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr
    assert "--token" in done.stderr and "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--read-token", "r"], "--read-token needs --token"),
        (["--token", " "], "--token is empty"),
        (["--token", "same", "--read-token", "same"], "the same as --token"),
    ],
)
def test_inconsistent_tokens_are_refused(tmp_path: Path, args: list[str], message: str) -> None:
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "WFC_SERVER_TOKEN": None})
    result = runner.invoke(app, ["server", "--db", str(tmp_path / "x.db"), *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_without_the_extra_the_command_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    result = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, ["server", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "pip install 'wfc[server]'" in result.output and "Traceback" not in result.output


def test_wfc_server_serves_a_database_until_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    missing = subprocess.run(
        [str(WFC), "server", "--db", str(db), "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "no database at" in missing.stderr  # a client does not create one
    from srvlive import free_port

    sock = free_port()
    port = sock.getsockname()[1]
    sock.close()
    tasks = Path(__file__).parent / "srvtasks.py"
    server = subprocess.Popen(
        [str(WFC), "server", "--db", str(db), "--port", str(port), "--tasks", str(tasks)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "WFC_SERVER_TOKEN": "tok-123456"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/runs").status_code == 401
        ok = httpx.get(f"http://127.0.0.1:{port}/api/v1/runs", headers={"Authorization": "Bearer tok-123456"})
        assert ok.json() == {"runs": [], "next_cursor": None}
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "tok-123456" not in out + err  # tokens are never logged
    assert f"127.0.0.1:{port}/api/v1" in out and "running the tasks noop" in out



#: ``wfc runs list`` options and the ``GET /runs`` parameter each one is.
LIST_FILTERS = {
    "status": "status",
    "workflow": "workflow",
    "since": "started_after",
    "before": "started_before",
    "needs_attention": "needs_attention",
    "where": "where",
    "stuck": "stuck_for",
    "limit": "limit",
}


def test_every_runs_list_filter_is_a_parameter_of_get_runs() -> None:
    import msgspec

    from wfc.server._types import RunsQuery

    runs_list = get_command(app).commands["runs"].commands["list"]  # type: ignore[attr-defined]
    options = {param.name for param in runs_list.params} - {"as_json", "db"}
    unmapped = options ^ set(LIST_FILTERS)
    assert not unmapped, f"map the new options of `runs list` to the parameters of GET /runs: {unmapped}"
    fields = {field.name for field in msgspec.structs.fields(RunsQuery)}
    assert set(LIST_FILTERS.values()) <= fields
