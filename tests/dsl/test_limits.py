"""The DSL refuses, at the call, values and durations a spec cannot hold
(the limits of wfc.specs.limits), so the compiled spec always loads."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from wfc.dsl import Backoff, DslError, Workflow, WorkflowThread
from wfc.specs import MAX_DURATION_SECONDS, MAX_EPOCH_SECONDS, MAX_INT, dumps, loads


def refused(fn: Callable[[WorkflowThread], Any]) -> str:
    with pytest.raises(DslError) as info:
        Workflow("limits", fn).compile()
    return str(info.value)


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


TOO_LONG = MAX_DURATION_SECONDS + 1

CASES: dict[str, tuple[Callable[[WorkflowThread], Any], str]] = {
    "task-timeout": (lambda wf: wf.execute("a", timeout=TOO_LONG), "timeout: a duration may be at most"),
    "wait-timeout": (lambda wf: wf.wait_for_event("e", timeout=1e300), "timeout: a duration may be at most"),
    "sleep": (lambda wf: wf.sleep(TOO_LONG), "seconds: a duration may be at most"),
    "sleep-until": (lambda wf: wf.sleep_until(MAX_EPOCH_SECONDS + 1), "a moment must lie between year 1 and"),
    "sleep-until-early": (lambda wf: wf.sleep_until(-1e12), "a moment must lie between year 1 and"),
    "backoff": (lambda wf: wf.execute("a", backoff=Backoff(initial=1, multiplier=2, maximum=1e10)),
                "maximum <= 3153600000 s (100 years)"),
    "retries": (lambda wf: wf.execute("a", retries=2**64), f"retries must be an int from 0 to {MAX_INT}"),
    "undo-retries": (lambda wf: wf.execute("a").compensate_with("b", retries=2**63), "retries must be an int"),
    "big-int-arg": (lambda wf: wf.execute("a", 2**63), "an integer outside the signed 64-bit range"),
    "surrogate-arg": (lambda wf: wf.execute("a", {"k": "\ud800"}), "lone UTF-16 surrogate"),
    "surrogate-key": (lambda wf: wf.execute("a", {"\ud800": 1}), "lone UTF-16 surrogate"),
    "deep-arg": (lambda wf: wf.execute("a", nested(65)), "nests deeper than 64 levels"),
    "deep-tuple": (lambda wf: wf.execute("a", (nested(64),)), "nests deeper than 64 levels"),
    "nan-default": (lambda wf: wf.declare_float("f").default(math.nan), "nan has no JSON form"),
    "big-default": (lambda wf: wf.declare_json("j").default({"n": -(2**63) - 1}), "an integer outside"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_values_past_the_limits_are_refused_at_the_call(case: str) -> None:
    fn, expected = CASES[case]
    assert expected in refused(fn)


def test_values_at_the_limits_compile_and_load() -> None:
    def flow(wf: WorkflowThread) -> None:
        wf.declare_json("j").default({"n": MAX_INT, "deep": nested(63)})
        wf.execute("a", -(2**63), nested(64), timeout=MAX_DURATION_SECONDS,
                   backoff=Backoff(initial=1, multiplier=1e300, maximum=MAX_DURATION_SECONDS))
        wf.sleep(MAX_DURATION_SECONDS)
        wf.sleep_until(MAX_EPOCH_SECONDS)

    spec = Workflow("limits", flow).compile()
    assert loads(dumps(spec)) == spec
