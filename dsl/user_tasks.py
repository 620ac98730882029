"""The handle ``wf.assign_user_task`` returns, and its durable timers.

``ut["field"]`` reads a field of the completed form like any node output
(a field the form does not have is refused at that line). The timer methods
add a :class:`~wfc.specs.UserTaskTimer` to the node: each runs once, ``seconds``
after the task was assigned, if the task is still open then. They may be
called any time while the workflow function runs, like ``compensate_with``;
wherever they are written, they belong to their user task and their
expressions are evaluated in the user task's thread.
"""

from __future__ import annotations

import math

from wfc.dsl.errors import DslError
from wfc.dsl.handles import Expression, NodeOutput, to_expression
from wfc.dsl.recording import RecordedNode, RecordedTimer, Recording
from wfc.dsl.source import Source, caller_source
from wfc.specs import FormDef, LiteralExpr, PathSegment, duration_problem, text_problem


class UserTaskOutput(NodeOutput):
    """A user task: its output is the completed form, one key per field.

    ``ut["approved"]`` reads a field; ``ut.remind_after(...)`` and the other
    timer methods return the handle, so they chain.
    """

    __slots__ = ("form",)

    def __init__(self, node: RecordedNode, recording: Recording, form: FormDef) -> None:
        super().__init__(node, recording)
        self.form = form

    def _with_path(self, segments: list[PathSegment]) -> Expression:
        if segments:
            first = segments[0]
            names = [f.name for f in self.form.fields]
            if not isinstance(first, str) or first not in names:
                raise DslError(
                    f"form {self.form.name!r} has no field {first!r} (its fields: {', '.join(names) or 'none'}); "
                    f"the output of user task {self.node_id!r} is the completed form: ut[\"field\"]",
                    str(caller_source()),
                )
        return super()._with_path(segments)

    def reassign_after(self, seconds: float, user: object = None, group: object = None) -> UserTaskOutput:
        """Reassign the task to ``user`` and/or ``group`` if it is still open
        ``seconds`` after it was assigned. A group alone clears the user, so
        any member of the group may claim it."""
        source = caller_source()
        after = _seconds(seconds, "reassign_after", source)
        if user is None and group is None:
            raise DslError(
                "reassign_after() needs user= or group= (or both): ut.reassign_after(3 * 86400, group=\"support\")",
                str(source),
            )
        timer = RecordedTimer(
            after=after, action="reassign", source=source,
            user=None if user is None else assignee(user, "user", self.recording, source),
            group=None if group is None else assignee(group, "group", self.recording, source),
        )
        return self._add(timer, "reassign_after")

    def release_to_group_after(self, seconds: float) -> UserTaskOutput:
        """Take the task back from its user, for anyone in its group to
        claim, if it is still open ``seconds`` after it was assigned. A task
        without a group is left as it is."""
        source = caller_source()
        timer = RecordedTimer(after=_seconds(seconds, "release_to_group_after", source), action="release",
                              source=source)
        return self._add(timer, "release_to_group_after")

    def remind_after(self, seconds: float, task_name: str, *args: object) -> UserTaskOutput:
        """Run the task ``task_name`` with ``args`` if the user task is still
        open ``seconds`` after it was assigned (e.g. send the customer a
        reminder). Its result changes nothing in the flow."""
        source = caller_source()
        after = _seconds(seconds, "remind_after", source)
        if not isinstance(task_name, str) or not task_name.strip():
            raise DslError(
                f"remind_after() needs the name of the reminder task, got {task_name!r}: "
                "ut.remind_after(86400, \"send-reminder\", customer)",
                str(source),
            )
        problem = stored_text_problem(task_name)
        if problem is not None:
            raise DslError(f"the reminder task name cannot be stored: {problem}", str(source))
        arguments = [to_expression(arg, self.recording) for arg in args]
        timer = RecordedTimer(after=after, action="remind", source=source, task=task_name, args=arguments)
        return self._add(timer, "remind_after")

    def cancel_after(self, seconds: float) -> UserTaskOutput:
        """Cancel the task if it is still open ``seconds`` after it was
        assigned: the node fails with ``USER_TASK_CANCELLED``, which
        ``wf.handle_error(ut, handler, error="USER_TASK_CANCELLED")`` handles."""
        source = caller_source()
        after = _seconds(seconds, "cancel_after", source)
        earlier = next((t for t in self._timers() if t.action == "cancel"), None)
        if earlier is not None:
            raise DslError(
                f"user task {self.node_id!r} already has cancel_after({earlier.after:g}) (at {earlier.source}); "
                "a task is cancelled once: keep one cancel_after()",
                str(source),
            )
        return self._add(RecordedTimer(after=after, action="cancel", source=source), "cancel_after")

    def _timers(self) -> list[RecordedTimer]:
        timers: list[RecordedTimer] = self.node.fields["timers"]
        return timers

    def _add(self, timer: RecordedTimer, verb: str) -> UserTaskOutput:
        from wfc.dsl.thread import active_thread

        active_thread(self.recording, verb)  # refuses a call after the workflow was recorded
        self._timers().append(timer)
        return self


def assignee(value: object, what: str, recording: Recording, source: Source) -> Expression:
    """``user``, ``group`` or ``notes`` of a user task or a reassign timer: a
    string, or a handle or expression that gives one when the task is assigned."""
    if isinstance(value, Expression):
        return to_expression(value, recording)
    if not isinstance(value, str):
        raise DslError(
            f"{what} is a string, a variable or an expression, got {value!r}: "
            f"{what}=\"support\" or {what}=customer (a declared str variable)",
            str(source),
        )
    if what != "notes" and not value.strip():
        raise DslError(f"{what} is an empty string; leave it out (None) to assign by the other one", str(source))
    problem = stored_text_problem(value)
    if problem is not None:
        raise DslError(f"the {what} cannot be stored: {problem}", str(source))
    return Expression(LiteralExpr(value=value), recording)


def stored_text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored in a text column, or ``None``."""
    problem = text_problem(text)
    if problem is None and "\x00" in text:
        problem = "it contains a NUL character, which the database cannot store"
    return problem


def _seconds(value: object, verb: str, source: Source) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise DslError(
            f"{verb}() takes a number of seconds > 0 after the assignment, got {value!r}: "
            f"ut.{verb}(3 * 86400{', ...' if verb in ('reassign_after', 'remind_after') else ''})",
            str(source),
        )
    problem = duration_problem(value)
    if problem is not None:
        raise DslError(f"{verb}(): {problem}, got {value!r}", str(source))
    return float(value)

