"""The doors agree, whatever a user writes: random workflows and inputs,
hostile values included, go through compile -> dumps -> loads -> deploy ->
start and nothing raises anything but a documented WfcError; every spec the
compiler writes is accepted by loads and deploys."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wfc.compiler import compile_workflow
from wfc.dsl import Backoff, Workflow, WorkflowThread
from wfc.runtime import Engine
from wfc.specs import MAX_DURATION_SECONDS, MAX_EPOCH_SECONDS, MAX_INT, WfcError, dumps, loads


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_SCALARS = st.sampled_from(
    [math.nan, math.inf, -math.inf, MAX_INT + 1, -(2**63) - 1, 10**30, "\ud800", "a\x00b", 1e300, -1e300]
)
PLAIN_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), MAX_INT), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)


def mostly(plain: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``plain`` six times in seven, so that many workflows get past the DSL to deploy and start."""
    return st.one_of(*[plain] * 6, hostile)


SCALARS = mostly(PLAIN_SCALARS, HOSTILE_SCALARS)
VALUES = mostly(
    st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids,
                                                                                    max_size=3), max_leaves=6),
    st.integers(60, 70).map(nested) | st.just({"\udc00": 1}),
)
DURATIONS = mostly(st.sampled_from([1, 2.5, MAX_DURATION_SECONDS]),
                   st.sampled_from([0, -1, math.nan, math.inf, 1e300, MAX_DURATION_SECONDS + 1, 10**400, True, "5"]))
MOMENTS = mostly(st.sampled_from([0, MAX_EPOCH_SECONDS, "2030-01-01T00:00:00", "9999-12-31T23:00:00-05:00"]),
                 st.sampled_from([MAX_EPOCH_SECONDS + 1, -1e13, 1e300]))
NAMES = mostly(st.sampled_from(["ok", "a.b:c", "ünï", "x" * 300]),
               st.sampled_from(["with space", "", "a\x00b", "\ud800", "-lead"]))
CONDITIONS = st.one_of(
    st.sampled_from([
        "n > 1", "@missing-node.ok", "@step.ok == true", "true", "false", "n > 99999999999999999999",
        "n == 1e400", "s == '\\ud800'", "not not not b", "j == " + '{"a": ' * 70 + "1" + "}" * 70,
        "n +", "unknown_name", "len(s) > 2",
    ]),
    st.integers(2, 600).map(lambda terms: " and ".join(["b"] * terms)),
    st.integers(2, 600).map(lambda terms: "n" + " + 1" * terms + " > 0"),
)

Step = Callable[[WorkflowThread], Any]


def step(draw: st.DrawFn, depth: int = 0) -> Step:
    kind = draw(st.sampled_from(["execute", "if", "while", "sleep", "sleep_until", "wait", "spawn", "handle",
                                 "fail", "complete", "assign"]))
    match kind:
        case "execute":
            args, timeout = draw(st.lists(VALUES, max_size=2)), draw(st.none() | DURATIONS)
            retries = draw(mostly(st.sampled_from([0, 3]), st.sampled_from([-1, MAX_INT + 1])))
            backoff = draw(st.none() | st.sampled_from([Backoff(initial=1, multiplier=1e300, maximum=60),
                                                         Backoff(initial=1, multiplier=2, maximum=1e12)]))
            return lambda wf: wf.execute("step", *args, timeout=timeout, retries=retries, backoff=backoff)
        case "if" | "while":
            text, inner = draw(CONDITIONS), body(draw, depth + 1)
            if kind == "if":
                return lambda wf: wf.do_if(wf.condition(text), inner)
            return lambda wf: wf.do_while(wf.condition(text), inner)
        case "sleep":
            seconds = draw(DURATIONS)
            return lambda wf: wf.sleep(seconds)
        case "sleep_until":
            moment = draw(MOMENTS)
            return lambda wf: wf.sleep_until(moment)
        case "wait":
            name, timeout = draw(NAMES), draw(st.none() | DURATIONS)
            return lambda wf: wf.wait_for_event(name, timeout=timeout)
        case "spawn":
            name, inner = draw(NAMES), body(draw, depth + 1)
            return lambda wf: wf.wait_for_threads(wf.spawn_thread(inner, name))
        case "handle":
            name = draw(NAMES)
            return lambda wf: wf.handle_exception(wf.execute("risky"), lambda t: t.execute("undo"), name=name)
        case "fail":
            name, content = draw(NAMES), draw(VALUES)
            return lambda wf: wf.fail(name, "no", content=content)
        case "complete":
            value = draw(VALUES)
            return lambda wf: wf.complete(value)
    value = draw(VALUES)
    return lambda wf: wf.variable("j").assign(value)


def body(draw: st.DrawFn, depth: int) -> Step:
    steps = [step(draw, depth) for _ in range(draw(st.integers(0, 2 if depth < 2 else 0)))]

    def run(wf: WorkflowThread) -> None:
        for one in steps:
            one(wf)

    return run


@st.composite
def workflows(draw: st.DrawFn) -> tuple[Workflow, dict[str, Any]]:
    defaults = {name: draw(st.none() | VALUES) for name in ("n", "j")}
    main_steps = [step(draw) for _ in range(draw(st.integers(1, 4)))]

    def flow(wf: WorkflowThread) -> None:
        wf.declare_int("n")
        wf.declare_str("s").masked()
        wf.declare_bool("b")
        json_var = wf.declare_json("j")
        if defaults["j"] is not None:
            json_var.default(defaults["j"])
        for one in main_steps:
            one(wf)

    names = st.sampled_from(["n", "s", "b", "j", "nope", "\ud800"])
    inputs = draw(st.dictionaries(names, VALUES, max_size=3))
    return Workflow("door", flow), inputs


def start_run(tmp_path: Path, spec_bytes: bytes, inputs: dict[str, Any]) -> str:
    """Deploy the spec on a fresh SQLite file and start a run; say what happened."""

    async def go() -> str:
        spec = loads(spec_bytes)
        url = f"sqlite:///{tmp_path / (uuid.uuid4().hex + '.db')}"
        async with Engine.open(url, serve=False) as engine:
            assert await engine.deploy(spec)
            try:
                await engine.start(spec.name, inputs, run_id="r-1")
            except WfcError as error:
                return f"start refused by {type(error).__name__}"
            assert (await engine.get_run("r-1")).workflow == spec.name
            return "started"

    return anyio.run(go)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(workflows())
def test_compile_dumps_loads_deploy_start_raise_only_wfc_errors(tmp_path: Path,
                                                                case: tuple[Workflow, dict[str, Any]]) -> None:
    workflow, inputs = case
    try:
        spec = compile_workflow(workflow)
    except WfcError as error:
        event(f"refused by {type(error).__name__}")
        return  # DslError or CompileError: the user's mistake, named
    event("compiled")
    data = dumps(spec)
    assert loads(data) == spec  # every spec the compiler writes is accepted by loads
    event(start_run(tmp_path, data, inputs))


@pytest.mark.parametrize("terms", [2, 255, 257, 600])
def test_long_chains_compile_or_are_refused_cleanly(tmp_path: Path, terms: int) -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_bool("b")
        wf.do_if(wf.condition(" and ".join(["b"] * terms)), lambda t: t.execute("step"))

    try:
        spec = compile_workflow(Workflow("door", flow))
    except WfcError as error:
        assert terms > 256 and "levels deep" in str(error)
        return
    assert terms <= 256
    assert start_run(tmp_path, dumps(spec), {"b": True}) == "started"
