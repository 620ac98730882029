"""Events for ``wait_for_event`` nodes: taking a queued one, consuming one."""

from __future__ import annotations

from wfc.runtime.interpreter.context import Step, matches
from wfc.runtime.interpreter.state import InboxEvent, ThreadRun
from wfc.runtime.interpreter.threads import proceed


def take_queued(step: Step, name: str, correlation: str | None) -> InboxEvent | None:
    """Remove and return the oldest inbox event a wait for ``name`` takes."""
    inbox = step.state.inbox
    for index, queued in enumerate(inbox):
        if matches(queued, name, correlation):
            del inbox[index]
            return queued
    return None


def consume(step: Step, thread: ThreadRun, event: InboxEvent) -> None:
    """Give an event to the thread waiting at its node, and move on."""
    thread.outputs[thread.node] = event.payload
    step.log(
        thread,
        "EVENT_CONSUMED",
        thread.node,
        event=event.name,
        event_id=event.id,
        payload=step.info.show_output(thread.name, thread.node, event.payload),
    )
    proceed(step, thread, step.node(thread, thread.node))
