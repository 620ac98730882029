"""API load test: ``wfc server`` over a database of many stored runs, on a
loopback port, driven by concurrent httpx requests.

1. Seed ``--runs`` runs through the engine's own write path (``Engine.start``
   from a client engine, many at once so the commit loop batches them): one
   in five waits for an event (RUNNING, with its journal and correlated
   wait), the others complete at once (COMPLETED). Then check the stored
   state with the engine's reads: the count, a sample of runs by id, the
   first page and a status-filtered page.
2. Start ``wfc server --db URL --host 127.0.0.1 --port P`` (a client of the
   database: no tasks) in a process of its own; wait for ``/readyz``.
3. For each scenario, ``--requests`` requests (after a warm-up), at most
   ``--concurrency`` in flight, each response checked (200, a full page or
   the asked run): the first page of ``GET /api/v1/runs``, a deep keyset
   page (90% of the way down the list), a status filter
   (``status=RUNNING``), and ``GET /api/v1/runs/{id}`` of random runs.
   Latency is per request (client side, from send to the whole body read);
   requests/s is the scenario's count over its wall time.

Bounded and loopback only: the server binds 127.0.0.1 and is stopped at the
end; nothing else is contacted.

Usage: ``python bench/api_load.py [--runs 100000] [--requests 2000]
[--concurrency 16] [--db URL]`` (a temporary SQLite file unless ``--db``
names a database, e.g. an empty PostgreSQL one). A table goes to stderr and
ONE JSON line to stdout; ``bench/run.py`` runs it as one of its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

#: Starts in flight at once while seeding (the commit loop batches up to 1000 per transaction).
_SEED_IN_FLIGHT = 2000
_DEEP = 0.9


@dataclass(frozen=True)
class Scenario:
    """One kind of request; ``check`` refuses a wrong answer."""

    name: str
    path: Callable[[random.Random], str]
    check: Callable[[dict[str, Any]], bool]


def _specs() -> list[Any]:
    from wfc.dsl import Workflow, WorkflowThread

    def order(wf: WorkflowThread) -> Any:
        order_id = wf.declare_str("order-id").required()
        paid = wf.wait_for_event("paid", correlation=order_id)
        return paid

    def ping(wf: WorkflowThread) -> Any:
        return wf.declare_str("order-id").required()

    return [Workflow("order", order).compile(), Workflow("ping", ping).compile()]


def run_id(index: int) -> str:
    return f"run-{index:07d}"


def waits(index: int) -> bool:
    """One run in five waits for an event (stays RUNNING)."""
    return index % 5 == 0


async def seed(url: str, runs: int) -> dict[str, Any]:
    """Store ``runs`` runs and check them with the engine's reads; the
    seeding figures and what the load needs (a deep page's cursor)."""
    from wfc.runtime import Engine, RunKey, RunStatus
    from wfc.server._endpoints import _encode_cursor

    began = time.perf_counter()
    async with Engine.open(url, serve=False, check_tasks=False) as engine:
        for spec in _specs():
            await engine.deploy(spec)
        limit = anyio.Semaphore(_SEED_IN_FLIGHT)

        async def start(index: int) -> None:
            async with limit:
                workflow = "order" if waits(index) else "ping"
                await engine.start(workflow, {"order-id": f"o-{index}"}, run_id=run_id(index))

        async with anyio.create_task_group() as tg:
            for index in range(runs):
                await limit.acquire()  # bounded: never more than _SEED_IN_FLIGHT coroutines alive
                limit.release()
                tg.start_soon(start, index)
        seconds = time.perf_counter() - began
        store = engine._store
        ((count,),) = [tuple(row) for row in await store.dialect.fetch("SELECT count(*) AS n FROM runs")]
        if count != runs:
            raise SystemExit(f"seeded {runs} runs but the database holds {count}")
        sample = random.Random(7).sample(range(runs), min(runs, 50))
        for index in sample:
            info = await engine.get_run(run_id(index))
            expected = RunStatus.RUNNING if waits(index) else RunStatus.COMPLETED
            if info.status is not expected or info.variables["order-id"] != f"o-{index}":
                raise SystemExit(f"run {run_id(index)} is {info.status} with {info.variables}, not {expected}")
        first = await engine.list_runs_page(limit=50)
        running = await engine.list_runs_page(status="RUNNING", limit=50)
        if len(first.runs) != min(50, runs) or any(r.status is not RunStatus.RUNNING for r in running.runs):
            raise SystemExit("the first page or the RUNNING page read back wrong")
        depth = min(int(runs * _DEEP), runs - 1)
        order = store.dialect.code_point_order
        rows = await store.dialect.fetch(
            f"SELECT created_at, id FROM runs ORDER BY created_at DESC, id{order} DESC LIMIT 1 OFFSET ?", [depth]
        )
        deep = _encode_cursor(RunKey(created_at=rows[0]["created_at"], id=rows[0]["id"]))
    return {"seconds": round(seconds, 2), "runs_per_s": round(runs / seconds, 1), "depth": depth, "cursor": deep}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    """``wfc server`` on the loopback port, its output in ``log``."""
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "server", "--db", url]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})


async def wait_ready(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"wfc server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await anyio.sleep(0.1)
    raise SystemExit(f"wfc server was not ready within 60 s:\n{log.read_text()[-3000:]}")


def scenarios(runs: int, cursor: str) -> list[Scenario]:
    page = min(50, runs)

    def full(body: dict[str, Any]) -> bool:
        return len(body["runs"]) == page

    return [
        Scenario("runs_list_first", lambda _: "/api/v1/runs?limit=50", full),
        Scenario("runs_list_deep", lambda _: f"/api/v1/runs?limit=50&cursor={cursor}", lambda b: len(b["runs"]) > 0),
        Scenario(
            "runs_list_status",
            lambda _: "/api/v1/runs?limit=50&status=RUNNING",
            lambda b: len(b["runs"]) == min(50, (runs + 4) // 5) and all(r["status"] == "RUNNING" for r in b["runs"]),
        ),
        Scenario("run_detail", lambda rng: f"/api/v1/runs/{run_id(rng.randrange(runs))}", lambda b: "id" in b),
    ]


async def load(base: str, scenario: Scenario, requests: int, concurrency: int, warmup: int) -> dict[str, Any]:
    """``requests`` requests of ``scenario``, ``concurrency`` at a time."""
    import httpx

    rng = random.Random(scenario.name)
    latencies: list[float] = []
    wrong: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one(measured: bool) -> None:
            path = scenario.path(rng)
            sent = time.perf_counter()
            response = await client.get(path)
            body = response.json()
            took = time.perf_counter() - sent
            if response.status_code != 200 or not scenario.check(body):
                wrong.append(f"{path}: {response.status_code} {response.text[:300]}")
            elif measured:
                latencies.append(took)

        async def worker(count: int, measured: bool) -> None:
            for _ in range(count):
                await one(measured)

        async def batch(total: int, measured: bool) -> float:
            began = time.perf_counter()
            async with anyio.create_task_group() as tg:
                for index in range(concurrency):
                    share = total // concurrency + (1 if index < total % concurrency else 0)
                    tg.start_soon(worker, share, measured)
            return time.perf_counter() - began

        await batch(warmup, False)
        seconds = await batch(requests, True)
    if wrong:
        raise SystemExit(f"{scenario.name}: {len(wrong)} wrong answers, e.g. {wrong[0]}")
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "concurrency": concurrency,
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "requests_per_s": round(len(ordered) / seconds, 1),
    }


def measure(url: str, runs: int, requests: int, concurrency: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """Seed, serve, load; the JSON-ready figures."""
    progress(f"api load: seeding {runs} runs")
    seeded = anyio.run(seed, url, runs)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="wfc-api-load-") as folder:
        log = Path(folder) / "server.log"
        server = start_server(url, port, log)
        try:
            anyio.run(wait_ready, base, server, log)
            figures: dict[str, Any] = {}
            warmup = min(requests, max(concurrency * 2, requests // 20))
            for scenario in scenarios(runs, seeded["cursor"]):
                progress(f"api load: {scenario.name}, {requests} requests, {concurrency} at a time")
                figures[scenario.name] = anyio.run(load, base, scenario, requests, concurrency, warmup)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return {
        "runs": runs,
        "store": url.partition(":")[0],
        "seed": {key: seeded[key] for key in ("seconds", "runs_per_s")},
        "deep_page_offset": seeded["depth"],
        "scenarios": figures,
    }


def print_table(result: dict[str, Any]) -> None:
    """The figures on stderr."""
    seed_figures = result["seed"]
    print(
        f"\n== API load, {result['runs']} runs on {result['store']} (seeded in {seed_figures['seconds']} s, "
        f"{seed_figures['runs_per_s']} runs/s; deep page at offset {result['deep_page_offset']}) ==",
        file=sys.stderr,
    )
    for name, figures in result["scenarios"].items():
        print(
            f"  {name}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, {figures['requests_per_s']} req/s "
            f"({figures['requests']} requests, {figures['concurrency']} at a time)",
            file=sys.stderr,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs to store (default 100000)")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per scenario (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once (default 16)")
    parser.add_argument("--db", metavar="URL", help="an empty database to fill (default: a temporary SQLite file)")
    args = parser.parse_args()
    for name in ("runs", "requests", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be 1 or more")

    def progress(message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="wfc-api-db-") as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'api.db'}"
        result = measure(url, args.runs, args.requests, args.concurrency, progress)
    print_table(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
