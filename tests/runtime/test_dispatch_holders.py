"""A task result finds the thread waiting for it through the thread number
in its dispatch id, not by looking at every thread of the run: a step of a
run with a thousand live children cost several times a step of a run with
one (each result looked at every thread twice, once for a user task
reminder). Ids of another form still find their thread by looking at all."""

from __future__ import annotations

from rtdrive import Driver
from rtspec import exit_, for_each, out, spec, task, thread, var, variable, wait

from wfc.runtime.interpreter import TaskCompleted
from wfc.runtime.interpreter.dispatch import holders
from wfc.runtime.interpreter.state import RunStatus, TaskWait

FAN = spec(
    "fan",
    [("kids", for_each("kid", var("items"))), ("work", task("work", 1)), ("end", exit_(out("work")))],
    variables={"items": variable("json", required=True)},
    threads={"kid": thread([("wait", wait("go")), ("done", exit_())], variables={"item": variable("json")})},
)


def test_a_result_is_matched_to_the_thread_its_dispatch_id_names() -> None:
    run = Driver(FAN, {"items": list(range(50))})
    [dispatch] = run.dispatched()
    assert dispatch.dispatch_id.startswith(f"r1/{dispatch.thread}/")
    assert [t.number for t in holders(run.state, dispatch.dispatch_id)] == [dispatch.thread]
    assert list(holders(run.state, "r1/999/work/1#1")) == []  # no such thread: nobody holds it
    assert len(list(holders(run.state, "elsewhere#1"))) == len(run.state.threads)  # another form: every thread
    run.feed(TaskCompleted(dispatch_id=dispatch.dispatch_id, output=7))
    assert run.state.threads[0].outputs["work"] == 7
    assert not isinstance(run.state.threads[0].wait, TaskWait)
    assert (run.state.status, run.state.output) == (RunStatus.COMPLETED, 7)  # the waiting children were stopped


def test_a_run_id_with_slashes_is_no_trouble() -> None:
    run = Driver(FAN, {"items": [1]}, run_id="orders/2026/7")
    [dispatch] = run.dispatched()
    assert [t.number for t in holders(run.state, dispatch.dispatch_id)] == [dispatch.thread]
    run.feed(TaskCompleted(dispatch_id=dispatch.dispatch_id, output=1))
    assert run.state.threads[0].outputs["work"] == 1
