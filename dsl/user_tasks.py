"""User tasks: ``wf.assign_user_task``, the handle it returns, and its
durable timers.

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
from typing import Any

from wfc.dsl.builder import CallGroup
from wfc.dsl.checks import check_stored_name
from wfc.dsl.errors import DslError
from wfc.dsl.forms import UserTaskForm, form_difference
from wfc.dsl.handles import Expression, NodeOutput, to_expression
from wfc.dsl.recording import RecordedForm, RecordedNode, RecordedTimer, Recording
from wfc.dsl.source import Source, caller_source
from wfc.specs import FormDef, LiteralExpr, PathSegment, UserTaskNode, duration_problem


class UserTaskCalls(CallGroup):
    """The call of ``WorkflowThread`` that gives a person work to do."""

    def assign_user_task(
        self,
        form: UserTaskForm,
        user: object = None,
        group: object = None,
        notes: object = None,
    ) -> UserTaskOutput:
        """Give a person work to do: wait until someone completes ``form``;
        returns a handle to the completed form (``ut["field"]``).

        Args:
            form: The :class:`~wfc.dsl.UserTaskForm` to fill in.
            user: Who it is assigned to: a string, a variable or an expression.
            group: The group whose members may claim it (e.g. ``"support"``);
                at least one of ``user`` and ``group``.
            notes: What the person is asked to do, shown with the form.

        Add deadlines with ``ut.reassign_after``, ``ut.release_to_group_after``,
        ``ut.remind_after`` and ``ut.cancel_after``. A cancelled task fails the
        node with ``USER_TASK_CANCELLED``:
        ``wf.handle_error(ut, handler, error="USER_TASK_CANCELLED")``.
        """
        core = self._core
        source = core.check_active("assign_user_task")
        if not isinstance(form, UserTaskForm):
            raise DslError(
                f"assign_user_task() takes a UserTaskForm, got {form!r}: "
                "form = UserTaskForm(\"update-card\", card_token=Field(str)); wf.assign_user_task(form, user=customer)",
                str(source),
            )
        if user is None and group is None:
            raise DslError(
                f"assign_user_task({form.name!r}) needs user= or group= (or both), so someone can see the task: "
                "wf.assign_user_task(form, user=customer, group=\"support\")",
                str(source),
            )
        fields: dict[str, Any] = {
            "form": form.name,
            "user": None if user is None else assignee(user, "user", core.recording, source),
            "group": None if group is None else assignee(group, "group", core.recording, source),
            "notes": None if notes is None else assignee(notes, "notes", core.recording, source),
            "timers": [],
        }
        _use_form(core.recording, form, source)
        node = core.add_node(f"user-task-{form.name}", UserTaskNode, fields, source)
        return UserTaskOutput(node, core.recording, form.definition)


def _use_form(recording: Recording, form: UserTaskForm, source: Source) -> None:
    known = recording.forms.get(form.name)
    if known is None:
        recording.forms[form.name] = RecordedForm(form.definition, form.source, source)
    elif known.definition != form.definition:
        difference = form_difference(known.definition, form.definition)
        raise DslError(
            f"form {form.name!r} (declared at {form.source}) differs from the form of the same name used at "
            f"{known.first_use} (declared at {known.declared}): {difference}. "
            "A workflow has one form per name: use the same UserTaskForm, or give this one another name",
            str(source),
        )


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
        check_stored_name(task_name, "reminder task name", source)
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
    check_stored_name(value, what, source)
    return Expression(LiteralExpr(value=value), recording)


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

