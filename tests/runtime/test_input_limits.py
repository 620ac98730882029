"""Values the database or JSON cannot hold are refused at the door, naming
the field: run inputs, event payloads, and durations and numbers computed
while a run goes on (a clear failure of the node, never a crash)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from rtdrive import Driver
from rtspec import exit_, lit, op, sleep, sleep_until, spec, task, var, variable, wait

from wfc.runtime import Engine, InputError, RunStatus, UsageError
from wfc.runtime import task as wfc_task
from wfc.runtime.interpreter import prepare_inputs
from wfc.runtime.interpreter.expressions import _FUNCTIONS, ExpressionError, binary_op
from wfc.specs import MAX_DURATION_SECONDS, MAX_INT, WorkflowSpec


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


INPUTS_SPEC = spec(
    "pay",
    [("w", wait("go")), ("t", task("noop")), ("end", exit_())],
    variables={
        "amount": variable("float", required=True),
        "count": variable("int"),
        "meta": variable("json"),
        "card": variable("json", masked=True),
    },
)


def input_error(inputs: dict[str, Any], target: WorkflowSpec = INPUTS_SPEC) -> InputError:
    with pytest.raises(InputError) as info:
        prepare_inputs(target, inputs)
    return info.value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "NaN is not allowed: JSON has no form for it; send a finite number or null"),
        (math.inf, "an infinite number is not allowed"),
        (2**64, "an integer outside the signed 64-bit range"),
    ],
)
def test_a_number_that_cannot_be_stored_is_an_input_error_naming_the_field(value: Any, reason: str) -> None:
    error = input_error({"amount": value})
    assert error.problems[0][0] == "amount"
    assert error.problems[0][1].startswith(reason)
    assert str(error).startswith(f"invalid inputs for workflow 'pay' (1 problem): 'amount': {reason}")


def test_a_required_input_that_was_refused_is_not_also_reported_missing() -> None:
    assert [name for name, _ in input_error({"amount": math.nan}).problems] == ["amount"]


def test_every_problem_is_listed_with_its_path_inside_the_value() -> None:
    error = input_error({"amount": 1.0, "count": 2**63, "meta": {"items": [1, math.nan], "k": "\ud800"}})
    assert [(name, reason.split(":")[0]) for name, reason in error.problems] == [
        ("count", "an integer outside the signed 64-bit range (-9223372036854775808 to 9223372036854775807) "
         "cannot be stored; send it as a string"),
        ("meta", "at $.items[1]"),
        ("meta", "at $.k"),
    ]


def test_input_nested_past_the_limit_is_refused_without_recursion() -> None:
    error = input_error({"amount": 1.0, "meta": nested(100_000)})
    [(name, reason)] = error.problems
    assert name == "meta"
    assert reason.endswith("JSON nested deeper than 64 levels of lists and objects; flatten it")


def test_a_masked_input_is_named_but_neither_its_value_nor_its_keys_are_shown() -> None:
    error = input_error({"amount": 1.0, "card": {"pan-4242": math.nan, "pin": "s3cr3t\ud800"}})
    assert [name for name, _ in error.problems] == ["card", "card"]
    assert "pan-4242" not in str(error) and "s3cr3t" not in str(error)


def test_a_non_json_value_is_refused_by_name() -> None:
    assert list(input_error({"amount": 1.0, "meta": {"when": object()}}).problems) == [
        ("meta", "at $.when: a Python object is not a JSON value; use null, bool, int, float, str, list or dict")
    ]


# --- values computed while the run goes on ------------------------------------------------------------


def test_a_sleep_past_100_years_fails_the_node_instead_of_crashing() -> None:
    s = spec("w", [("nap", sleep(var("n"))), ("end", exit_())], variables={"n": variable("float", default=1e300)})
    d = Driver(s)
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None
    assert (d.state.failure.name, d.state.failure.node) == ("EXPRESSION_ERROR", "nap")
    assert f"sleep: a duration may be at most {MAX_DURATION_SECONDS} seconds" in d.state.failure.message
    assert d.timers() == []


@pytest.mark.parametrize("until", [3e11, -1e13, "9999-12-31T23:00:00-05:00"])
def test_a_moment_outside_years_1_to_9999_fails_the_node(until: Any) -> None:
    s = spec("w", [("nap", sleep_until(var("u"))), ("end", exit_())], variables={"u": variable("json")})
    d = Driver(s, {"u": until})
    assert d.timers() == []
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.name == "EXPRESSION_ERROR"
    assert "sleep_until: a moment must lie between year 1 and the end of year 9999" in d.state.failure.message


def test_an_integer_result_past_64_bits_fails_the_node() -> None:
    s = spec(
        "w",
        [("t", task("noop", op(var("n"), "*", lit(4)))), ("end", exit_())],
        variables={"n": variable("int", default=MAX_INT // 2)},
    )
    d = Driver(s)
    assert d.state.failure is not None and d.state.failure.name == "EXPRESSION_ERROR"
    assert "outside the signed 64-bit range" in d.state.failure.message


def test_a_float_meeting_an_integer_too_large_for_floats_is_an_expression_error() -> None:
    """Such an integer cannot come in as an input, but a task may return one."""
    with pytest.raises(ExpressionError, match="is out of the range of numbers"):
        binary_op("+", 10**400, 0.5)
    with pytest.raises(ExpressionError, match="out of the range of numbers"):
        _FUNCTIONS["float"]([10**400])


# --- the engine's doors ----------------------------------------------------------------------------------

@wfc_task("noop")
def noop(*args: Any) -> None:
    return None


@pytest.mark.anyio
async def test_start_and_send_event_refuse_unstorable_values(db_url: str) -> None:
    async with Engine.open(db_url, tasks=[noop], poll_interval=0.05) as engine:
        await engine.deploy(INPUTS_SPEC)
        with pytest.raises(InputError) as info:
            await engine.start("pay", {"amount": math.nan, "meta": nested(1000)}, run_id="r-bad")
        assert [name for name, _ in info.value.problems] == ["amount", "meta"]
        assert await engine.list_runs() == []
        run_id = await engine.start("pay", {"amount": 1.0}, run_id="r-1")
        for payload, path in (({"a": [1, math.inf]}, "$.a[1]"), (nested(10_000), "$" + "[0]" * 64),
                              ({"n": 2**70}, "$.n"), ({"\udc00": 1}, "$")):
            with pytest.raises(UsageError) as sent:
                await engine.send_event("go", payload, run_id=run_id)
            assert str(sent.value).startswith(f"the payload of event 'go' is not JSON wfc can store ({path}: ")
        for kwargs in ({"run_id": "r\u00001"}, {"correlation": "k\ud800"}):
            with pytest.raises(UsageError, match="cannot be stored"):
                await engine.send_event("go", 1, **kwargs)
        with pytest.raises(UsageError, match="the event name cannot be stored"):
            await engine.send_event("go\x00", 1, run_id=run_id)
        with pytest.raises(UsageError, match="run_id cannot be stored"):
            await engine.start("pay", {"amount": 1.0}, run_id="r\ud8001")
        # Reading and steering take the same ids: a bad one is a usage error, not a store failure.
        for call in (engine.get_run("r\udcff"), engine.history("r\x00"), engine.list_runs(workflow="p\udcff"),
                     engine.halt("r\udcff"), engine.cancel(run_id, reason="why\udcff")):
            with pytest.raises(UsageError, match="cannot be stored"):
                await call
        info_now = await engine.get_run(run_id)
        assert info_now.status is RunStatus.RUNNING
        assert info_now.pending_events == ()
