"""Running one benchmark process and reading its JSON line."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def child(
    script: str,
    *args: object,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
    cpus: frozenset[int] | None = None,
) -> dict[str, Any]:
    """Run ``script`` of this folder with ``args`` and parse its last JSON
    line; kept on ``cpus`` where given (see :mod:`placement`)."""
    done = subprocess.run(
        [sys.executable, str(HERE / script), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        # Safe here: the bench's own process runs no threads of its own.
        preexec_fn=None if cpus is None else functools.partial(os.sched_setaffinity, 0, cpus),
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} {args} failed with exit {done.returncode}:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{script} {args} printed no JSON:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return dict(json.loads(lines[-1]))


@contextmanager
def workers(url: str, count: int, probe_dir: Path, concurrency: int = 1000) -> Iterator[tuple[list[Path], list[int]]]:
    """``count`` counted ``wfc worker`` processes on ``url`` until the block
    ends; yields the files each writes its CPU and round trips to on exit,
    and their process ids."""
    outs = [probe_dir / f"worker-{index}.json" for index in range(count)]
    processes = []
    for out in outs:
        command = [sys.executable, str(HERE / "counted_worker.py"), str(out), "worker", "--db", url]
        command += ["--tasks", "bench_tasks.py", "--concurrency", str(concurrency), "--stats-every", "3600"]
        processes.append(
            subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    try:
        for process in processes:  # each prints one line once it serves
            assert process.stdout is not None
            line = process.stdout.readline()
            if "serving" not in line:
                raise SystemExit(f"a wfc worker did not start: {line}{process.stdout.read()}")
        yield outs, [process.pid for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def worker_totals(outs: list[Path]) -> dict[str, Any]:
    """CPU seconds and round trips the workers wrote on exit."""
    found = [json.loads(out.read_text()) for out in outs if out.exists()]
    if len(found) != len(outs):
        raise SystemExit(f"only {len(found)} of {len(outs)} workers reported their counts")
    return {
        "cpu_s": [f["cpu_s"] for f in found],
        "round_trips": sum(f["round_trips"] for f in found),
        "commits": sum(f["commits"] for f in found),
        "verbs": {verb: sum(f["verbs"].get(verb, 0) for f in found) for verb in {v for f in found for v in f["verbs"]}},
    }
