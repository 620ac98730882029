"""A ``wfc`` process for the tests of metrics and logs: its stdout and
stderr go to files the test reads while it runs; ``--log-format json``
lines are parsed back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from wfc.runtime import Engine
from wfc.specs import WorkflowSpec

#: The tasks module the processes import (this folder's obsflows.py).
TASKS_FILE = str(Path(__file__).with_name("obsflows.py"))


@dataclass
class WfcProcess:
    """A running ``wfc`` command."""

    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def stderr(self) -> str:
        return self.err.read_text()

    def stdout(self) -> str:
        return self.out.read_text()

    def json_lines(self) -> list[dict[str, Any]]:
        """Every stderr line, each parsed as JSON (a line that is not JSON fails the test)."""
        lines = [line for line in self.stderr().splitlines() if line.strip()]
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"a log line is not JSON: {line!r}") from None
        return parsed

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """The first match of ``pattern`` in stdout + stderr, once it appears;
        the process must keep running meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.stdout() + self.stderr())
            if found:
                return found
            assert self.process.poll() is None, f"wfc exited {self.process.returncode}:\n{self.stdout()}{self.stderr()}"
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout} s:\n{self.stdout()}{self.stderr()}"
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> int:
        """Wait for it to exit by itself; its exit code."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"wfc did not exit:\n{self.stdout()}{self.stderr()}") from None

    def stop(self) -> int:
        """SIGTERM it and wait; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode


def start_wfc(folder: Path, *args: str, env: dict[str, str] | None = None) -> WfcProcess:
    """Start ``wfc ARGS`` in ``folder``."""
    command = [sys.executable, "-c", "from wfc.cli import main; main()", *args]
    out, err = folder / "wfc.out", folder / "wfc.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=folder, stdout=stdout, stderr=stderr, env={**os.environ, "NO_COLOR": "1", **(env or {})}
        )
    return WfcProcess(process, out, err)


def deploy(url: str, specs: list[WorkflowSpec]) -> None:
    """Deploy ``specs`` from a client engine."""

    async def main() -> None:
        async with Engine.open(url, serve=False) as client:
            for spec in specs:
                await client.deploy(spec)

    anyio.run(main)


def start_runs(url: str, runs: dict[str, tuple[str, dict[str, Any]]]) -> None:
    """Start runs (run id -> workflow and inputs) from a client engine."""

    async def main() -> None:
        async with Engine.open(url, serve=False) as client:
            for run_id, (workflow, inputs) in runs.items():
                await client.start(workflow, inputs, run_id=run_id)

    anyio.run(main)


def wait_runs(url: str, run_ids: list[str], timeout: float = 60) -> dict[str, str]:
    """Wait from a client engine until the runs finish; their statuses."""

    async def main() -> dict[str, str]:
        async with Engine.open(url, serve=False, poll_interval=0.1) as client:
            return {run_id: (await client.wait(run_id, timeout=timeout)).status.value for run_id in run_ids}

    return anyio.run(main)
