"""Fixtures for the CLI tests: a runner, and spec files built from wfc.specs types."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner, Result

from wfc.cli import app
from wfc.specs import (
    BinaryExpr,
    Edge,
    EntrypointNode,
    ExitNode,
    FailureHandler,
    LiteralExpr,
    Mutation,
    Node,
    NopNode,
    OutputRef,
    SpawnThreadNode,
    TaskNode,
    ThreadSpec,
    VariableDef,
    VarRef,
    Version,
    WaitForThreadsNode,
    WorkflowSpec,
    dumps,
    with_hash,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from rtdb import SKIP_REASON, Db, make_db, postgres_base_url

Invoke = Callable[..., Result]


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh database for a CLI test: a SQLite file, and a PostgreSQL
    schema too when ``WFC_TEST_POSTGRES_URL`` is set (else that case skips)."""
    if request.param == "postgres" and postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db(request.param, tmp_path)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Db]:
    """A schema of its own on PostgreSQL (skipped without one)."""
    if postgres_base_url() is None:
        pytest.skip(SKIP_REASON)
    database = make_db("postgres", tmp_path)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Invoke]:
    """Run ``wfc ARGS...`` in-process from ``tmp_path``; wide output, no colour.

    ``sys.path`` and the modules the test's workflow files import are put
    back afterwards, so tests do not see each other's modules.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    modules = set(sys.modules)
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1", "WFC_DEBUG": None})

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    yield run
    for name in set(sys.modules) - modules:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(tmp_path)):
            del sys.modules[name]


def _gt(left: object, right: object) -> BinaryExpr:
    return BinaryExpr(op=">", left=left, right=right)  # type: ignore[arg-type]


def task(name: str, *edges: Edge, retries: int = 3, **fields: object) -> TaskNode:
    """A task node."""
    return TaskNode(task=name, retries=retries, edges=list(edges), **fields)  # type: ignore[arg-type]


def to(node: str, when: object = None, mutations: list[Mutation] | None = None) -> Edge:
    """An edge."""
    return Edge(to=node, when=when, mutations=mutations or [])  # type: ignore[arg-type]


def rich_spec() -> WorkflowSpec:
    """A spec with a branch, a loop, a failure handler, a spawned thread,
    mutations and labels that need escaping."""
    amount, attempts = VarRef(name="amount"), VarRef(name="attempts")
    tricky = BinaryExpr(op="==", left=VarRef(name="note"), right=LiteralExpr(value='say "hi" <b> [x] #1 | y'))
    add_amount = Mutation(var="total", op="add", value=OutputRef(node="charge-card", path=["amount"]))
    count = Mutation(var="attempts", op="add", value=LiteralExpr(value=1))
    main: dict[str, Node] = {
        "entrypoint": EntrypointNode(edges=[to("charge-card")]),
        "charge-card": task(
            "charge-card",
            to("check-amount", mutations=[add_amount]),
            args=[VarRef(name="order-id")],
            handlers=[FailureHandler(on="error", thread="refund")],
        ),
        "check-amount": NopNode(edges=[to("fraud-check", when=_gt(amount, LiteralExpr(value=100))), to("join")]),
        "fraud-check": task('fraud "check" [v2]', to("join", when=tricky), to("join")),
        "join": NopNode(edges=[to("poll-loop")]),
        "poll-loop": NopNode(
            edges=[to("poll", when=BinaryExpr(op="<", left=attempts, right=LiteralExpr(value=3))), to("spawn-audit")]
        ),
        "poll": task("poll-status", to("poll-loop", mutations=[count]), retries=0),
        "spawn-audit": SpawnThreadNode(thread="audit", edges=[to("wait-audit")]),
        "wait-audit": WaitForThreadsNode(threads=["spawn-audit"], edges=[to("exit")]),
        "exit": ExitNode(edges=[]),
    }
    return with_hash(
        WorkflowSpec(
            name="checkout",
            entrypoint="main",
            schema="wfc/1",
            version=Version(major=1, revision=2),
            variables={
                "order-id": VariableDef(type="str", required=True),
                "amount": VariableDef(type="float", required=True),
                "note": VariableDef(type="str"),
                "total": VariableDef(type="float", default=0.0),
                "attempts": VariableDef(type="int", default=0),
            },
            threads={
                "main": ThreadSpec(nodes=main),
                "refund": simple_thread("refund-card"),
                "audit": simple_thread("write-audit"),
            },
        )
    )


def simple_thread(task_name: str) -> ThreadSpec:
    """entrypoint → one task → exit."""
    nodes: dict[str, Node] = {
        "entrypoint": EntrypointNode(edges=[to(task_name)]),
        task_name: task(task_name, to("exit")),
        "exit": ExitNode(edges=[]),
    }
    return ThreadSpec(nodes=nodes)


def replace(spec: WorkflowSpec, **changes: object) -> WorkflowSpec:
    """``spec`` with fields replaced and the hash recomputed."""
    return with_hash(msgspec.structs.replace(spec, **changes))


@pytest.fixture
def spec() -> WorkflowSpec:
    """The rich spec."""
    return rich_spec()


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[WorkflowSpec, str], Path]:
    """Write a spec to ``tmp_path/<name>`` and return the path."""

    def write(spec: WorkflowSpec, name: str = "checkout.json") -> Path:
        path = tmp_path / name
        path.write_bytes(dumps(spec))
        return path

    return write


@pytest.fixture
def write_module(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a Python module (dedented) to ``tmp_path/<name>``."""

    def write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return path

    return write
