"""The dashboard's cost and speed: does an open page slow the engine, how fast
does a change reach it, and how fast is a big spec's graph laid out and drawn.

1. ``wfc server --tasks bench_tasks.py`` on a loopback port runs the engine
   over a SQLite file. With 0 and then ``--pages`` pages listening to its live
   pushes (``GET /api/v1/live``, the stream every open page holds), a client
   starts ``--runs`` five-step runs at once and the time until the server has
   completed them all gives steps/s; the two sides alternate for ``--reps``
   repetitions. The ratio of the medians is the cost of the open pages.
2. Push latency: one page listens; ``--pushes`` runs are started one by one
   through ``POST /api/v1/runs`` and the time from the answer to the push
   naming the run is measured (p50, p99).
3. Layout: a 500-node spec thread laid out by the server's layered layout
   (median of 5), and, where Debian's Chromium and Playwright are installed,
   the time from opening the spec's page to its graph drawn in the browser.

Loopback only; the server is stopped at the end. Usage: ``python
bench/dashboard_load.py [--runs 1000] [--pages 20] [--reps 3] [--pushes 30]``.
A table goes to stderr and ONE JSON line to stdout; ``bench/run.py`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import free_port, wait_ready

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("WFC_TEST_CHROMIUM", "/usr/bin/chromium")


def _five_steps() -> Any:
    from wfc.dsl import Workflow, WorkflowThread

    def flow(wf: WorkflowThread) -> None:
        index = wf.declare_int("index").default(0)
        for _ in range(5):
            wf.execute("trivial-step", index)

    return Workflow("dash-five", flow).compile()


def _wide(width: int = 6, depth: int = 28) -> Any:
    """About ``3 * width * depth`` nodes in one thread: rounds of if/elif/else."""
    from wfc.dsl import Workflow, WorkflowThread

    def flow(wf: WorkflowThread) -> None:
        amount = wf.declare_int("amount").default(0)
        for level in range(depth):

            def branch(name: str, level: int = level) -> Any:
                def body(t: WorkflowThread) -> None:
                    for step in range(width):
                        t.execute(f"{name}-{level}-{step}", amount)

                return body

            wf.do_if(amount > level, branch("high")).do_elif(amount < -level, branch("low")).do_else(branch("mid"))

    return Workflow("dash-wide", flow).compile()


async def _deploy(url: str) -> None:
    from wfc.runtime import Engine

    async with Engine.open(url, serve=False) as client:
        await client.deploy(_five_steps())
        await client.deploy(_wide())


def _start_server(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", "from wfc.cli import main; main()", "server", "--db", url, "--port", str(port)]
    command += ["--host", "127.0.0.1", "--tasks", str(HERE / "bench_tasks.py")]
    with open(log, "wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})


async def _listen(base: str, heard: dict[str, float] | None, stop: anyio.Event) -> None:
    """One open page: hold the live stream, noting when each run is first named."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=None) as client, client.stream("GET", "/api/v1/live") as answer:
        async for line in answer.aiter_lines():
            if stop.is_set():
                return
            if heard is not None and line.startswith("data: "):
                now = time.perf_counter()
                for run_id in json.loads(line[6:])["runs"]:
                    heard.setdefault(run_id, now)


def _completed() -> Any:
    from wfc.runtime import RunStatus

    return RunStatus.COMPLETED


async def _push_latency(base: str, pushes: int) -> list[float]:
    import httpx

    heard: dict[str, float] = {}
    stop = anyio.Event()
    latencies = []
    async with anyio.create_task_group() as group:
        group.start_soon(_listen, base, heard, stop)
        await anyio.sleep(0.5)
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for index in range(pushes):
                run_id = f"push-{index}"
                answer = await client.post("/api/v1/runs", json={"workflow": "dash-five", "run_id": run_id})
                answer.raise_for_status()
                sent = time.perf_counter()
                deadline = sent + 10
                while run_id not in heard:
                    if time.perf_counter() > deadline:
                        raise SystemExit(f"no push named {run_id} within 10 s")
                    await anyio.sleep(0.005)
                latencies.append(max(0.0, heard[run_id] - sent))
                await anyio.sleep(0.1)
        stop.set()
        group.cancel_scope.cancel()
    return latencies


def _layout_ms() -> tuple[int, float]:
    from wfc.server._layout import layout_thread

    spec = _wide()
    thread = spec.threads[spec.entrypoint]
    times = []
    for _ in range(5):
        began = time.perf_counter()
        layout_thread(spec.entrypoint, thread)
        times.append((time.perf_counter() - began) * 1000)
    return len(thread.nodes), statistics.median(times)


def _render_ms(base: str) -> float | None:
    """Opening the 500-node spec's page until its graph is drawn, in Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).exists():
        return None
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        times = []
        for _ in range(3):
            page.goto(base + "/#/specs/dash-wide/1.0")
            page.wait_for_selector("svg.graph g.node >> nth=499", state="attached", timeout=30_000)
            times.append(float(page.evaluate("performance.now()")))
            page.goto("about:blank")
        browser.close()
    return statistics.median(times)


def measure(runs: int, pages: int, reps: int, pushes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wfc-dash-") as folder:
        url = f"sqlite:///{Path(folder) / 'dash.db'}"
        anyio.run(_deploy, url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(folder) / "server.log"
        server = _start_server(url, port, log)
        try:
            anyio.run(wait_ready, base, server, log)
            sides: dict[int, list[float]] = {0: [], pages: []}
            for rep in range(reps):
                for listening in (0, pages) if rep % 2 == 0 else (pages, 0):
                    sides[listening].append(anyio.run(_throughput_rep, url, base, runs, listening, rep))
            latencies = sorted(anyio.run(_push_latency, base, pushes))
            nodes, layout_ms = _layout_ms()
            render_ms = _render_ms(base)
        finally:
            server.terminate()
            server.wait(30)
    quiet, busy = statistics.median(sides[0]), statistics.median(sides[pages])
    return {
        "runs": runs,
        "pages": pages,
        "reps": reps,
        "steps_per_s_no_pages": round(quiet, 1),
        "steps_per_s_with_pages": round(busy, 1),
        "with_pages_ratio": round(busy / quiet, 3),
        "steps_per_s_each": {str(k): [round(v, 1) for v in vs] for k, vs in sides.items()},
        "push_latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p99": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000, 1),
            "max": round(latencies[-1] * 1000, 1),
            "n": len(latencies),
        },
        "layout_nodes": nodes,
        "layout_ms": round(layout_ms, 2),
        "render_ms": None if render_ms is None else round(render_ms, 1),
    }


async def _throughput_rep(url: str, base: str, runs: int, pages: int, rep: int) -> float:
    """One repetition on fresh run ids, counted from this repetition's runs only."""
    from wfc.runtime import Engine

    stop = anyio.Event()
    prefix = f"p{pages}-r{rep}-"
    async with anyio.create_task_group() as group:
        for _ in range(pages):
            group.start_soon(_listen, base, None, stop)
        await anyio.sleep(0.5)
        async with Engine.open(url, serve=False, poll_interval=0.05) as client:
            before = (await client.count_runs("dash-five", cap=10**9))[_completed()]
            started = time.perf_counter()
            for index in range(runs):
                await client.start("dash-five", {"index": index}, run_id=f"{prefix}{index}")
            while (await client.count_runs("dash-five", cap=10**9))[_completed()] < before + runs:
                await anyio.sleep(0.05)
            elapsed = time.perf_counter() - started
        stop.set()
        group.cancel_scope.cancel()
    return runs * 5 / elapsed


def print_table(result: dict[str, Any]) -> None:
    out = sys.stderr
    print(f"\n== Dashboard: {result['pages']} open pages, {result['runs']} runs x {result['reps']} reps ==", file=out)
    print(
        f"  steps/s without pages {result['steps_per_s_no_pages']:g}, with {result['pages']} pages "
        f"{result['steps_per_s_with_pages']:g} (ratio {result['with_pages_ratio']:g})",
        file=out,
    )
    push = result["push_latency_ms"]
    print(f"  push after a start: p50 {push['p50']:g} ms, p99 {push['p99']:g} ms ({push['n']} pushes)", file=out)
    render = "not measured (no Chromium)" if result["render_ms"] is None else f"{result['render_ms']:g} ms"
    print(f"  {result['layout_nodes']}-node thread: layout {result['layout_ms']:g} ms, drawn in {render}", file=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--pushes", type=int, default=30)
    args = parser.parse_args()
    for name in ("runs", "pages", "reps", "pushes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be 1 or more")
    result = measure(args.runs, args.pages, args.reps, args.pushes)
    print_table(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
