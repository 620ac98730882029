"""Events, timeouts and durable sleeps in the interpreter."""

from __future__ import annotations

from rtdrive import Driver
from rtspec import exit_, handler, out, sleep, sleep_until, spec, task, thread, var, variable, wait

from wfc.runtime.interpreter import CancelTimer, EventArrived, SetTimer, UnwatchEvent, WatchEvent
from wfc.runtime.interpreter.state import EventWait, RunStatus, SleepWait, ThreadStatus


def test_an_event_arriving_at_a_wait_is_its_output() -> None:
    s = spec("w", [("approval", wait("approved")), ("end", exit_(out("approval", "by")))])
    d = Driver(s)
    assert isinstance(d.state.root.wait, EventWait)
    assert d.last.effects == []  # no timeout, no correlation: nothing to store but the state
    d.event("approved", {"by": "ann"})
    assert d.state.output == "ann"
    assert d.kinds()[-4:] == ["EVENT_RECEIVED", "EVENT_CONSUMED", "NODE_ENTERED", "RUN_COMPLETED"]


def test_events_before_the_wait_are_kept_and_consumed_in_order() -> None:
    s = spec(
        "w",
        [("first", task("t")), ("w1", wait("item")), ("w2", wait("item")), ("end", exit_(var("x")))],
        variables={"x": variable("json")},
    )
    s = spec(
        "w",
        [
            ("first", task("t")),
            ("w1", wait("item")),
            ("w2", wait("item")),
            ("end", exit_({"kind": "list", "items": [out("w1"), out("w2")]})),
        ],
    )
    d = Driver(s)
    d.event("item", 1, event_id="e1")
    d.event("item", 2, event_id="e2")
    d.event("other", 3, event_id="e3")
    assert [e.name for e in d.state.inbox] == ["item", "item", "other"]
    d.complete(None)
    assert d.state.output == [1, 2]
    assert [e.id for e in d.state.inbox] == ["e3"]


def test_the_same_event_id_is_taken_once() -> None:
    s = spec("w", [("first", task("t")), ("w1", wait("item")), ("end", exit_())])
    d = Driver(s)
    d.event("item", 1, event_id="same")
    repeat = d.event("item", 1, event_id="same")
    assert repeat.journal == []
    assert len(d.state.inbox) == 1


def test_a_wait_timeout_is_a_timeout_error_on_the_node() -> None:
    s = spec("w", [("approval", wait("approved", timeout=30)), ("end", exit_())])
    d = Driver(s, now=100.0)
    [timer] = d.timers()
    assert timer.due == 130.0
    assert isinstance(d.state.root.wait, EventWait) and d.state.root.wait.timer == timer.timer
    d.fire()
    failure = d.state.failure
    assert failure is not None
    assert (failure.name, failure.node, failure.kind) == ("TIMEOUT", "approval", "error")
    assert "no event 'approved' arrived within 30 s" in failure.message


def test_an_event_before_the_timeout_cancels_the_timer() -> None:
    s = spec("w", [("approval", wait("approved", timeout=30)), ("end", exit_())])
    d = Driver(s)
    [timer] = d.timers()
    done = d.event("approved")
    assert CancelTimer(timer=timer.timer) in done.effects
    assert d.state.status is RunStatus.COMPLETED


def test_timeout_can_be_handled_and_the_thread_continues() -> None:
    s = spec(
        "w",
        [
            ("approval", wait("approved", timeout=5, handlers=[handler("error", "on-timeout", "TIMEOUT")])),
            ("end", exit_(var("note"))),
        ],
        variables={"note": variable("str", default="approved")},
        threads={
            "on-timeout": thread(
                [("note", task("notify", var("failure", "name"))), ("end", exit_())],
                variables={"failure": variable("json")},
            )
        },
    )
    d = Driver(s)
    d.fire()
    notify = d.dispatch()
    assert notify.args == ["TIMEOUT"] and notify.thread == 1
    d.complete(None)
    assert d.state.status is RunStatus.COMPLETED


def test_correlated_waits_watch_their_key_and_take_only_matching_events() -> None:
    s = spec(
        "w",
        [("pay", wait("paid", correlation=var("order"))), ("end", exit_(out("pay")))],
        variables={"order": variable("str", required=True)},
    )
    d = Driver(s, {"order": "o-1"})
    assert d.last.effects == [WatchEvent(thread=0, event="paid", correlation="o-1")]
    d.feed(EventArrived(event_id="x", name="paid", payload="wrong", correlation="o-2"))
    assert d.state.status is RunStatus.RUNNING
    done = d.feed(EventArrived(event_id="y", name="paid", payload="right", correlation="o-1"))
    assert UnwatchEvent(thread=0) in done.effects
    assert d.state.output == "right"


def test_an_event_sent_by_run_id_matches_a_correlated_wait() -> None:
    s = spec("w", [("pay", wait("paid", correlation="k")), ("end", exit_(out("pay")))])
    d = Driver(s)
    d.event("paid", "by-id")
    assert d.state.output == "by-id"


def test_sleep_sets_a_durable_timer_and_continues_when_it_fires() -> None:
    s = spec("w", [("nap", sleep(3600)), ("end", exit_("awake"))])
    d = Driver(s, now=1000.0)
    assert d.last.effects == [SetTimer(timer=1, due=4600.0)]
    assert isinstance(d.state.root.wait, SleepWait)
    assert d.entries("SLEEPING") == [{"until": 4600.0}]
    d.fire()
    assert d.state.output == "awake"


def test_sleep_until_takes_epoch_seconds_or_iso_strings() -> None:
    s = spec("w", [("nap", sleep_until(var("at"))), ("end", exit_())], variables={"at": variable("json")})
    d = Driver(s, {"at": "1970-01-01T01:00:00Z"}, now=0.0)
    assert d.timers() == [SetTimer(timer=1, due=3600.0)]
    d2 = Driver(s, {"at": "1970-01-01T01:00:00"}, now=0.0)  # naive means UTC
    assert d2.timers()[0].due == 3600.0
    d3 = Driver(s, {"at": 50}, now=100.0)  # already past: no timer
    assert d3.state.status is RunStatus.COMPLETED
    d4 = Driver(s, {"at": "tomorrow"}, now=0.0)
    assert d4.state.failure is not None and d4.state.failure.name == "EXPRESSION_ERROR"


def test_negative_sleep_is_an_expression_error() -> None:
    s = spec("w", [("nap", sleep(-1)), ("end", exit_())])
    d = Driver(s)
    assert d.state.failure is not None and "sleep needs a number of seconds >= 0" in d.state.failure.message


def test_an_interrupt_event_runs_its_handler_instead_of_going_to_the_inbox() -> None:
    s = spec(
        "w",
        [("w", wait("never")), ("end", exit_())],
        threads={"on-cancel": [("end", exit_())]},
        interrupts=[{"event": "cancel-order", "thread": "on-cancel"}],
    )
    d = Driver(s)
    d.event("cancel-order", {"why": "changed mind"})
    assert d.state.inbox == [] and d.state.status is RunStatus.RUNNING
    handler = d.state.threads[1]
    assert (handler.kind, handler.status, handler.variables["event"]) == (
        "interrupt",
        ThreadStatus.COMPLETED,
        {"why": "changed mind"},
    )
    assert isinstance(d.state.root.wait, EventWait) and not d.state.root.suspended
