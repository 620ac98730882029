"""Waiting: ``wf.wait_for_event`` and the durable timers ``wf.sleep`` and
``wf.sleep_until``."""

from __future__ import annotations

from wfc.dsl.builder import CallGroup
from wfc.dsl.checks import check_stored_name, positive_seconds
from wfc.dsl.errors import DslError
from wfc.dsl.handles import NodeOutput
from wfc.specs import SleepNode, SleepUntilNode, WaitForEventNode, moment_problem


class WaitCalls(CallGroup):
    """The calls of ``WorkflowThread`` that wait for an event or for time."""

    def wait_for_event(self, name: str, timeout: float | None = None, correlation: object = None) -> NodeOutput:
        """Wait for an external event; returns a handle to its payload.

        Args:
            name: The event name senders use.
            timeout: Seconds before the node fails with ``TIMEOUT``.
            correlation: A key (usually a variable) that routes events sent
                by correlation to this wait.
        """
        core = self._core
        source = core.check_active("wait_for_event")
        if not isinstance(name, str) or not name.strip():
            raise DslError(f"an event name is a non-empty string, got {name!r}", str(source))
        check_stored_name(name, "event name", source)
        fields = {"event": name, "timeout": positive_seconds(timeout, "timeout", source),
                  "correlation": None if correlation is None else core.expr(correlation)}
        return NodeOutput(core.add_node(f"wait-{name}", WaitForEventNode, fields, source), core.recording)

    def sleep(self, seconds: object) -> None:
        """A durable timer: the run sleeps ``seconds`` (a number or a handle)."""
        core = self._core
        source = core.check_active("sleep")
        if seconds is None or isinstance(seconds, bool | str | list | dict | tuple):
            raise DslError(f"wf.sleep() takes a number of seconds (or a handle to one), got {seconds!r}", str(source))
        if isinstance(seconds, int | float):
            positive_seconds(seconds, "seconds", source)
        core.add_node("sleep", SleepNode, {"seconds": core.expr(seconds)}, source)

    def sleep_until(self, moment: object) -> None:
        """A durable timer until ``moment``: epoch seconds or an ISO-8601 string."""
        core = self._core
        source = core.check_active("sleep_until")
        if isinstance(moment, bool) or moment is None or isinstance(moment, list | dict | tuple):
            raise DslError(
                f"wf.sleep_until() takes epoch seconds (a number) or an ISO-8601 string, got {moment!r}",
                str(source),
            )
        if isinstance(moment, int | float):
            problem = moment_problem(moment)
            if problem is not None:
                raise DslError(f"wf.sleep_until(): {problem}, got {moment!r}", str(source))
        core.add_node("sleep-until", SleepUntilNode, {"until": core.expr(moment)}, source)
