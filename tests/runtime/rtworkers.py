"""``wfc worker`` processes for the multi-process tests: started on one
database, their output kept per worker, stopped with SIGTERM (killed when
they do not stop)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


class WorkerPool:
    """``wfc worker`` processes serving one database; ``kill_all`` at the end."""

    def __init__(self, url: str, folder: Path, env: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.folder = folder
        self.env = dict(env) if env is not None else None
        self.processes: list[subprocess.Popen[bytes]] = []

    def launch(self, count: int, tasks: str, options: Sequence[str]) -> None:
        """Start ``count`` workers running the task module ``folder/tasks``."""
        for _ in range(count):
            index = len(self.processes)
            command = [sys.executable, "-c", "from wfc.cli import main; main()", "worker", "--db", self.url]
            command += ["--tasks", str(self.folder / tasks), *options]
            with open(self.folder / f"worker{index}.log", "wb") as log:
                self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env))

    def logs(self) -> str:
        return "\n".join((self.folder / f"worker{i}.log").read_text() for i in range(len(self.processes)))

    def stop(self) -> list[int]:
        """SIGTERM every worker still running; their exit codes (killed after 20 s)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
