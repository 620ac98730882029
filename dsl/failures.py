"""Failures: handlers for a node's errors and exceptions, and ``wf.fail``."""

from __future__ import annotations

from wfc.dsl.builder import CallGroup, ThreadBody
from wfc.dsl.checks import check_stored_name
from wfc.dsl.errors import DslError
from wfc.dsl.handles import NodeOutput
from wfc.dsl.recording import RecordedHandler
from wfc.dsl.source import caller_source
from wfc.dsl.threads import record_child, unique_thread_name
from wfc.specs import ERROR_CODES, FailNode


class FailureCalls(CallGroup):
    """The calls of ``WorkflowThread`` that handle a node's failure or fail the thread."""

    def _handler(self, node: object, handler: ThreadBody, on: str, name: str | None, verb: str) -> None:
        core = self._core
        source = core.check_active(verb)
        if not isinstance(node, NodeOutput):
            raise DslError(
                f"wf.{verb}() takes the handle a node returned, got {node!r}: "
                f"charge = wf.execute(\"charge-card\"); wf.{verb}(charge, handler)",
                str(source),
            )
        if node.recording is not core.recording:
            core.expr(node)
        if any(h.on == on and h.name == name for h in node.node.handlers):
            what = f"{on} {name!r}" if name else f"every {on}" if on != "any" else "any failure"
            core.problem(f"node {node.node.id!r} already has a handler for {what}; register one handler "
                         "per failure, and do several things inside it", source)
            return
        # Error codes are upper case by convention; exception names are the user's and kept as given.
        suffix = {"error": (name or "error").lower(), "exception": name or "exception", "any": "failure"}[on]
        thread_name = unique_thread_name(core.recording, f"{node.node.id}-on-{suffix}")
        thread = record_child(core, handler, thread_name, "handler", source, {"failure": "json"})
        node.node.handlers.append(RecordedHandler(on, name, thread, source))  # type: ignore[arg-type]
        if node.node.thread is not core.thread:
            core.problem(
                f"wf.{verb}() is in thread {self.name!r} but node {node.node.id!r} is in thread "
                f"{node.node.thread.name!r}; register handlers in the thread that runs the node",
                source,
            )

    def handle_error(self, node: NodeOutput, handler: ThreadBody, error: str | None = None) -> None:
        """Run ``handler`` when ``node`` fails with a technical error (any, or
        the code ``error``: TASK_ERROR, TIMEOUT, EXPRESSION_ERROR, CHILD_FAILURE,
        or USER_TASK_CANCELLED for a cancelled user task); the thread then
        continues after the node."""
        if error is not None and error not in ERROR_CODES:
            raise DslError(
                f"unknown error code {error!r}; use one of {', '.join(ERROR_CODES)} or None for all",
                str(caller_source()),
            )
        self._handler(node, handler, "error", error, "handle_error")

    def handle_exception(self, node: NodeOutput, handler: ThreadBody, name: str | None = None) -> None:
        """Run ``handler`` when ``node`` raises a business exception (any, or
        the one called ``name``); the thread then continues after the node."""
        if name is not None and (not isinstance(name, str) or not name):
            raise DslError(f"an exception name is a non-empty string, got {name!r}", str(caller_source()))
        if name is not None:
            check_stored_name(name, "exception name", caller_source())
        self._handler(node, handler, "exception", name, "handle_exception")

    def handle_any_failure(self, node: NodeOutput, handler: ThreadBody) -> None:
        """Run ``handler`` when ``node`` fails in any way; the thread then
        continues after the node."""
        self._handler(node, handler, "any", None, "handle_any_failure")

    def fail(self, name: str, message: str = "", content: object = None) -> None:
        """Fail the thread with the business exception ``name``."""
        core = self._core
        source = core.check_active("fail")
        if not isinstance(name, str) or not name.strip():
            raise DslError(
                f"a failure name is a non-empty string, got {name!r}: wf.fail(\"out-of-stock\", \"...\")", str(source)
            )
        if not isinstance(message, str):
            raise DslError(f"the failure message is a string, got {message!r}", str(source))
        check_stored_name(name, "failure name", source)
        check_stored_name(message, "failure message", source)
        fields = {"failure": name, "message": message, "content": None if content is None else core.expr(content)}
        core.add_node(f"fail-{name}", FailNode, fields, source)
