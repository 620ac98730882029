"""``Engine.start`` is honestly idempotent by run id: the same start returns
the existing run, another start with the same id is a conflict that names
what differs (never a masked value). Both stores."""

from __future__ import annotations

from typing import Any

import pytest
from rtdb import Db
from rtspec import exit_, spec, variable, wait

from wfc.runtime import (
    ConflictError,
    Engine,
    InputError,
    RunIdConflictError,
    RunInputsConflictError,
    RunStatus,
    UsageError,
)

#: Every stored piece of run state: the runs' rows and their threads' rows.
STORED_STATES = "SELECT state FROM runs UNION ALL SELECT state FROM run_threads"

pytestmark = pytest.mark.anyio

SECRET = "hunter2-secret"


def checkout(version: tuple[int, int] = (1, 0)) -> Any:
    """A run that stays RUNNING (it waits), with a default and a masked input."""
    return spec(
        "checkout",
        [("w", wait("go")), ("end", exit_())],
        variables={
            "order": variable("str", required=True),
            "amount": variable("float", default=10.0),
            "card": variable("str", masked=True),
        },
        version=version,
    )


def open_engine(url: str) -> Any:
    return Engine.open(url, poll_interval=0.05)


async def test_the_same_start_returns_the_existing_run(db_url: str, db: Db) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        inputs = {"order": "o1", "amount": 12.5, "card": SECRET}
        first = await engine.start("checkout", inputs, run_id="o1")
        assert await engine.start("checkout", dict(inputs), run_id="o1") == first
        await engine.deploy(checkout((1, 1)))  # a newer version does not make it another start
        assert await engine.start("checkout", dict(inputs), run_id="o1") == first
        # 12 and 12.0 are the same float input once coerced.
        second = await engine.start("checkout", {"order": "o2", "amount": 12}, run_id="o2")
        assert await engine.start("checkout", {"order": "o2", "amount": 12.0}, run_id="o2") == second
    assert db.rows("SELECT count(*) FROM runs") == [(2,)]
    assert db.rows("SELECT count(*) FROM journal WHERE kind = 'RUN_STARTED'") == [(2,)]


async def test_leaving_out_an_input_equal_to_its_default_is_the_same_start(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        first = await engine.start("checkout", {"order": "o1", "amount": 10.0}, run_id="o1")
        assert await engine.start("checkout", {"order": "o1"}, run_id="o1") == first
        second = await engine.start("checkout", {"order": "o2"}, run_id="o2")
        assert await engine.start("checkout", {"order": "o2", "amount": 10}, run_id="o2") == second


async def test_other_inputs_are_a_conflict_naming_them_without_values(db_url: str, db: Db) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        await engine.start("checkout", {"order": "o1", "card": SECRET}, run_id="o1")
        with pytest.raises(RunInputsConflictError) as info:
            await engine.start("checkout", {"order": "o1", "amount": 99.0, "card": "other-secret"}, run_id="o1")
        error = info.value
        assert isinstance(error, ConflictError)
        assert (error.run_id, error.workflow) == ("o1", "checkout")
        assert error.differing == ("amount", "card")
        assert error.masked == ("card",)
        assert "'card' (masked)" in str(error) and "'amount'" in str(error)
        assert SECRET not in str(error) and "other-secret" not in str(error)
        # Only the masked input differs: still a conflict, still no value.
        with pytest.raises(RunInputsConflictError, match=r"these differ: 'card' \(masked\)\.") as only_card:
            await engine.start("checkout", {"order": "o1", "card": "guess"}, run_id="o1")
        assert "guess" not in str(only_card.value)
        # The run is untouched by the refused starts.
        run = await engine.get_run("o1")
        assert run.status is RunStatus.RUNNING
        assert run.variables["amount"] == 10.0
    assert db.rows("SELECT count(*) FROM journal WHERE kind = 'RUN_STARTED'") == [(1,)]
    state = "".join(str(row) for row in db.rows(STORED_STATES))
    assert "other-secret" not in state and "guess" not in state


async def test_a_finished_run_keeps_no_digest_of_its_secrets(db_url: str, db: Db) -> None:
    """A digest of a short secret can be reversed by trying every value, so
    a run that forgets its secrets forgets their digests too; a repeated
    start then compares only what it still knows."""
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        await engine.start("checkout", {"order": "o1", "card": "4821"}, run_id="o1")
        running = "".join(str(row) for row in db.rows(STORED_STATES))
        assert '"card"' in running  # while it runs, the digest is there for the comparison
        await engine.send_event("go", {}, run_id="o1")
        assert (await engine.wait("o1", timeout=10)).status is RunStatus.COMPLETED
        finished = "".join(str(row) for row in db.rows(STORED_STATES))
        digests = finished.split('"input_digests"', 1)[1].split("}", 1)[0]
        assert '"card"' not in digests and '"order"' in digests
        assert await engine.start("checkout", {"order": "o1", "card": "0000"}, run_id="o1") == "o1"
        with pytest.raises(RunInputsConflictError, match="these differ: 'order'"):
            await engine.start("checkout", {"order": "o2", "card": "4821"}, run_id="o1")


async def test_a_missing_required_input_on_a_repeated_start_is_an_input_error(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        await engine.start("checkout", {"order": "o1"}, run_id="o1")
        with pytest.raises(InputError, match="'order': required str input is missing"):
            await engine.start("checkout", {}, run_id="o1")


@pytest.mark.parametrize("version", ["abc", "99999999999999999999", "1.0.0", -1])
async def test_a_repeated_start_refuses_a_version_that_is_none(db_url: str, version: Any) -> None:
    """A repeated start does not compare the version (the run keeps its
    own), but a version that cannot be one was passed over: the existing
    run came back as if the call were right."""
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        await engine.start("checkout", {"order": "o1"}, run_id="o1")
        with pytest.raises(UsageError, match="version"):
            await engine.start("checkout", {"order": "o1"}, run_id="o1", version=version)
        assert await engine.start("checkout", {"order": "o1"}, run_id="o1", version="1.0") == "o1"


async def test_a_run_id_of_another_workflow_is_a_conflict_too(db_url: str) -> None:
    async with open_engine(db_url) as engine:
        await engine.deploy(checkout())
        await engine.deploy(spec("other", [("end", exit_())]))
        await engine.start("checkout", {"order": "o1"}, run_id="o1")
        with pytest.raises(RunIdConflictError) as info:
            await engine.start("other", run_id="o1")
        assert isinstance(info.value, ConflictError)


def test_a_run_stored_without_input_digests_is_returned_as_before() -> None:
    """Runs started by an older wfc have nothing to compare with: no conflict."""
    from wfc.runtime._inputs import check_same_inputs, input_digests
    from wfc.runtime.interpreter.state import RunState
    from wfc.specs import Version

    old = RunState(id="o1", workflow="checkout", version=Version(major=1, revision=0))
    check_same_inputs(old, frozenset(), {"order": "anything"})  # does not raise
    new = RunState(
        id="o1",
        workflow="checkout",
        version=Version(major=1, revision=0),
        input_digests=input_digests("o1", {"order": "a"}),
    )
    with pytest.raises(RunInputsConflictError):
        check_same_inputs(new, frozenset(), {"order": "b"})
