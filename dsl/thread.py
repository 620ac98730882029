"""``WorkflowThread``: the builder a workflow function receives.

Each DSL call adds nodes to the current thread's graph. The builder keeps one
*open edge*: the edge out of the last node, waiting for the next node. Its
mutations are the ``assign``/``mutate`` calls made since that node.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from wfc.dsl.bodies import refuse_async, refuse_awaitable
from wfc.dsl.errors import DslError
from wfc.dsl.forms import UserTaskForm, form_difference
from wfc.dsl.handles import (
    Expression,
    NodeOutput,
    SpawnedThread,
    VariableHandle,
    to_expression,
)
from wfc.dsl.recording import (
    Problem,
    RecordedEdge,
    RecordedForm,
    RecordedHandler,
    RecordedInterrupt,
    RecordedMutation,
    RecordedNode,
    RecordedThread,
    RecordedVariable,
    Recording,
    ThreadKind,
)
from wfc.dsl.source import Source, caller_source
from wfc.dsl.user_tasks import UserTaskOutput, assignee
from wfc.specs import (
    ERROR_CODES,
    MAX_DURATION_SECONDS,
    MAX_INT,
    MUTATION_OPS,
    TERMINAL_NODES,
    Backoff,
    CompensateNode,
    EntrypointNode,
    ExitNode,
    FailNode,
    LiteralExpr,
    Node,
    NopNode,
    SleepNode,
    SleepUntilNode,
    SpawnThreadForEachNode,
    SpawnThreadNode,
    TaskNode,
    UnaryExpr,
    UserTaskNode,
    VarType,
    WaitForEventNode,
    WaitForThreadsNode,
    duration_problem,
    moment_problem,
    text_problem,
)

ThreadBody = Callable[["WorkflowThread"], Any]
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")
_VAR_NAME = re.compile(r"[^\W\d][\w.:-]*")
_THREAD_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")
# Stands in for a condition whose text did not parse (that error is recorded). It
# is true but not the literal `true`, so a do_while on it is not also reported
# as a loop that can never end.
_UNPARSED = UnaryExpr(op="not", operand=LiteralExpr(value=False))


class ThreadStrategy(enum.StrEnum):
    """How ``wait_for_threads`` finishes.

    ``ALL`` waits for every child and fails as soon as one fails; ``FIRST``
    takes the first child to finish and halts the rest; ``ANY`` takes the
    first success and fails only when every child failed.
    """

    ALL = "ALL"
    FIRST = "FIRST"
    ANY = "ANY"


def active_thread(recording: Recording, verb: str) -> WorkflowThread:
    """The builder currently taking DSL calls for ``recording``."""
    if recording.finished or not recording.active:
        raise DslError(
            f"{verb}() was called after workflow {recording.name!r} was recorded. DSL calls only "
            "work while the workflow function runs, i.e. inside Workflow(...).compile()",
            str(caller_source()),
        )
    builder: WorkflowThread = recording.active[-1]
    return builder


class WorkflowThread:
    """Records one thread of a workflow. A workflow function receives one:
    ``def checkout(wf: WorkflowThread) -> None``."""

    def __init__(self, recording: Recording, thread: RecordedThread) -> None:
        self._recording = recording
        self._thread = thread
        self._open: RecordedEdge | None = None
        self._additions = 0

    # ------------------------------------------------------------ plumbing

    @property
    def name(self) -> str:
        """The name of the thread being recorded (``main`` for the entrypoint)."""
        return self._thread.name

    def _check_active(self, verb: str) -> Source:
        source = caller_source()
        if self._recording.finished:
            raise DslError(
                f"wf.{verb}() was called after workflow {self._recording.name!r} was recorded. DSL calls "
                "only work while the workflow function runs, i.e. inside Workflow(...).compile()",
                str(source),
            )
        if self._recording.active[-1] is not self:
            inner = self._recording.active[-1].name
            raise DslError(
                f"wf.{verb}() was called on thread {self.name!r} while thread {inner!r} was being "
                f"recorded; inside a spawned thread, interrupt or failure handler, call the "
                "WorkflowThread passed to that function (lambda t: t.execute(...))",
                str(source),
            )
        return source

    def _problem(self, message: str, source: Source) -> None:
        self._recording.problems.append(Problem(message, source))

    def _new_id(self, base: str) -> str:
        base = _ID_UNSAFE.sub("-", base).strip("-") or "node"
        if base in ("entrypoint", "exit") and base not in self._thread.id_counts:
            self._thread.id_counts[base] = 0
        while True:
            count = self._thread.id_counts.get(base, 0) + 1
            self._thread.id_counts[base] = count
            node_id = base if count == 1 else f"{base}-{count}"
            if node_id not in self._thread.nodes:
                return node_id

    def _add_node(self, base: str, kind: type[Node], fields: dict[str, Any], source: Source) -> RecordedNode:
        node = RecordedNode(self._new_id(base), kind, fields, self._thread, source)
        self._thread.nodes[node.id] = node
        self._additions += 1
        if self._open is not None:
            self._open.to = node.id
        if issubclass(kind, TERMINAL_NODES):
            self._open = None
        else:
            self._open = RecordedEdge(to="")
            node.edges.append(self._open)
        return node

    def _expr(self, value: object) -> Expression:
        return to_expression(value, self._recording)

    def _condition(self, cond: object, verb: str) -> Expression:
        if not isinstance(cond, Expression):
            raise DslError(
                f"wf.{verb}() needs a condition built from workflow handles, got {cond!r}: write "
                "wf.do_if(amount > 100, body) or wf.do_if(wf.condition(\"amount > 100\"), body)",
                str(caller_source()),
            )
        return self._expr(cond)

    def _run_body(self, body: ThreadBody, verb: str) -> None:
        if not callable(body):
            raise DslError(
                f"the body of wf.{verb}() must be a function taking the WorkflowThread, got {body!r}: "
                f"write wf.{verb}(..., lambda t: t.execute(\"task-name\"))",
                str(caller_source()),
            )
        what, example = f"the body of wf.{verb}()", 'lambda t: t.execute("task-name")'
        refuse_async(body, what, example)
        refuse_awaitable(body(self), what, example)

    def _record_thread(
        self,
        fn: ThreadBody,
        name: str,
        kind: ThreadKind,
        source: Source,
        implicit: Mapping[str, VarType] | None = None,
    ) -> RecordedThread:
        return record_thread(self._recording, fn, name, kind, self._thread, source, implicit or {})

    # ----------------------------------------------------------- variables

    def _declare(self, name: str, var_type: VarType) -> VariableHandle:
        source = self._check_active(f"declare_{var_type}")
        if not isinstance(name, str) or not _VAR_NAME.fullmatch(name):
            raise DslError(
                f"a variable name is a string of letters, digits, '_', '-', '.' or ':' starting with a "
                f"letter or '_', got {name!r}: write wf.declare_{var_type}(\"order-id\")",
                str(source),
            )
        variable = RecordedVariable(name, var_type, self._thread, source)
        existing = self._thread.variables.get(name)
        if existing is not None and not existing.implicit:
            self._thread.duplicate_variables.append((existing, variable))
            return VariableHandle(existing, self._recording)
        outer = self._thread.parent.visible_variable(name) if self._thread.parent else None
        if outer is not None and existing is None:
            self._problem(
                f"variable {name!r} hides the variable of the same name declared in thread "
                f"{outer.thread.name!r} at {outer.source}; choose another name",
                source,
            )
        self._thread.variables[name] = variable
        return VariableHandle(variable, self._recording)

    def declare_str(self, name: str) -> VariableHandle:
        """Declare a string variable."""
        return self._declare(name, "str")

    def declare_int(self, name: str) -> VariableHandle:
        """Declare an integer variable."""
        return self._declare(name, "int")

    def declare_float(self, name: str) -> VariableHandle:
        """Declare a float variable (ints are accepted as values)."""
        return self._declare(name, "float")

    def declare_bool(self, name: str) -> VariableHandle:
        """Declare a boolean variable."""
        return self._declare(name, "bool")

    def declare_json(self, name: str) -> VariableHandle:
        """Declare a variable holding any JSON value: object, list, …"""
        return self._declare(name, "json")

    def variable(self, name: str) -> VariableHandle:
        """A handle to a variable visible here, declared in this thread or
        an enclosing one, including wfc's own ``item``, ``failure`` and
        ``event`` variables of for-each children and handlers."""
        source = self._check_active("variable")
        found = self._thread.visible_variable(name)
        if found is None:
            visible = sorted({n for t in [self._thread, *self._thread.ancestors()] for n in t.variables})
            raise DslError(
                f"no variable {name!r} is visible in thread {self.name!r}; visible: {visible or 'none'}",
                str(source),
            )
        return VariableHandle(found, self._recording)

    def mutate(self, variable: VariableHandle, op: str, value: object) -> None:
        """Change ``variable`` when the thread leaves its current node.

        ``op`` is one of ``assign``, ``add``, ``subtract``, ``multiply``,
        ``divide``, ``append``, ``extend``, ``remove``, ``remove_key``.
        """
        source = self._check_active("mutate")
        if not isinstance(variable, VariableHandle):
            raise DslError(
                f"wf.mutate() changes a declared variable, got {variable!r}: "
                "write wf.mutate(total, \"add\", 1) with total = wf.declare_int(\"total\")",
                str(source),
            )
        op_name = op.value if isinstance(op, enum.Enum) else op
        if op_name not in MUTATION_OPS:
            raise DslError(f"unknown mutation {op!r}; use one of: {', '.join(MUTATION_OPS)}", str(source))
        expr = self._expr(value)
        if variable.recording is not self._recording:
            self._expr(variable)
        if self._open is None:
            self._problem("this change of a variable comes after the thread ended and never happens", source)
            return
        self._open.mutations.append(RecordedMutation(variable.variable, str(op_name), expr, source))
        self._additions += 1

    # --------------------------------------------------------------- tasks

    def execute(
        self,
        task_name: str,
        *args: object,
        retries: int | None = None,
        backoff: Backoff | None = None,
        timeout: float | None = None,
    ) -> NodeOutput:
        """Run a task; returns a handle to its output.

        Args:
            task_name: The name a ``@task`` registers, e.g. ``"charge-card"``.
            *args: Positional arguments: handles or JSON values.
            retries: Attempts after the first for technical errors; ``0``
                turns retries off. Unset, the task's ``@task(retries=...)``
                default applies, else none.
            backoff: Delays between attempts; exponential by default.
            timeout: Seconds one attempt may take.
        """
        source = self._check_active("execute")
        if not isinstance(task_name, str) or not task_name.strip():
            raise DslError(
                f"a task name is a non-empty string, got {task_name!r}: wf.execute(\"charge-card\", ...)", str(source)
            )
        if retries is not None:
            _check_retries(retries, source, ': wf.execute("charge-card", retries=3)')
        if backoff is not None and not _valid_backoff(backoff):
            raise DslError(
                f"backoff must be Backoff(initial=, multiplier=, maximum=) with finite numbers, initial > 0, "
                f"multiplier >= 1 and initial <= maximum <= {MAX_DURATION_SECONDS} s (100 years); got {backoff!r}",
                str(source),
            )
        _check_stored_name(task_name, "task name", source)
        fields = {"task": task_name, "args": [self._expr(a) for a in args], "retries": retries,
                  "backoff": backoff, "timeout": _positive(timeout, "timeout", source)}
        return NodeOutput(self._add_node(task_name, TaskNode, fields, source), self._recording)

    def register_compensation(self, output: NodeOutput, task_name: str, args: tuple[object, ...], retries: int) -> None:
        """Record ``output.compensate_with(...)``; see :meth:`NodeOutput.compensate_with`."""
        source = self._check_active("compensate_with")
        if not isinstance(task_name, str) or not task_name.strip():
            raise DslError(f"a compensation task name is a non-empty string, got {task_name!r}", str(source))
        _check_stored_name(task_name, "compensation task name", source)
        _check_retries(retries, source, "")
        node = output.node
        if node.kind is not TaskNode:
            self._recording.compensations_on_non_tasks.append((node, source))
            return
        if node.compensation is not None:
            first, _, _, first_source = node.compensation
            self._problem(f"node {node.id!r} already has a compensation, {first!r} (at {first_source}); a step "
                          "has one undo task: do several things inside that task", source)
            return
        node.compensation = (task_name, [self._expr(a) for a in args], retries, source)

    # ------------------------------------------------------------ control flow

    def condition(self, text: str, **bindings: object) -> Expression:
        """A condition written as an expression string.

        Declared variables are in scope by name (`` `order-id` `` for names
        that are not identifiers); keyword arguments bind names to node
        outputs or values: ``wf.condition("auth.approved and amount > 100", auth=auth)``.
        """
        from wfc.dsl.expressions import ExpressionError, parse_expression

        source = self._check_active("condition")
        if not isinstance(text, str):
            raise DslError(
                f"wf.condition() takes the expression as a string, got {text!r}: "
                'wf.condition("amount > 100")',
                str(source),
            )
        bound = {name: self._expr(value) for name, value in bindings.items()}
        try:
            parsed = parse_expression(text, {name: e.expr for name, e in bound.items()})
        except ExpressionError as exc:
            self._problem(str(exc), source)
            return Expression(_UNPARSED, self._recording)
        outputs = tuple(node for e in bound.values() for node in e.outputs)
        return Expression(parsed.expr, self._recording, outputs, parsed)

    def do_if(self, condition: Expression, body: ThreadBody) -> IfChain:
        """Run ``body`` when ``condition`` holds; chain ``.do_elif``/``.do_else``."""
        self._check_active("do_if")
        cond = self._condition(condition, "do_if")
        source = caller_source()
        branch = self._add_node("if", NopNode, {}, source)
        assert self._open is not None
        self._open.when = cond
        self._run_body(body, "do_if")
        join = self._add_node("end-if", NopNode, {}, source)
        branch.edges.append(RecordedEdge(to=join.id))
        return IfChain(self, branch, join)

    def do_while(self, condition: Expression, body: ThreadBody) -> None:
        """Run ``body`` again and again while ``condition`` holds."""
        source = self._check_active("do_while")
        cond = self._condition(condition, "do_while")
        loop = self._add_node("while", NopNode, {}, source)
        entry = self._open
        assert entry is not None
        entry.when = cond
        self._run_body(body, "do_while")
        if self._open is entry:
            if not entry.mutations:
                self._problem("the body of do_while does nothing, so the loop would spin forever", source)
            entry.to = loop.id
        elif self._open is not None:
            self._open.to = loop.id
        self._open = RecordedEdge(to="")
        loop.edges.append(self._open)

    # ----------------------------------------------------------------- waiting

    def wait_for_event(self, name: str, timeout: float | None = None, correlation: object = None) -> NodeOutput:
        """Wait for an external event; returns a handle to its payload.

        Args:
            name: The event name senders use.
            timeout: Seconds before the node fails with ``TIMEOUT``.
            correlation: A key (usually a variable) that routes events sent
                by correlation to this wait.
        """
        source = self._check_active("wait_for_event")
        if not isinstance(name, str) or not name.strip():
            raise DslError(f"an event name is a non-empty string, got {name!r}", str(source))
        _check_stored_name(name, "event name", source)
        fields = {"event": name, "timeout": _positive(timeout, "timeout", source),
                  "correlation": None if correlation is None else self._expr(correlation)}
        return NodeOutput(self._add_node(f"wait-{name}", WaitForEventNode, fields, source), self._recording)

    def sleep(self, seconds: object) -> None:
        """A durable timer: the run sleeps ``seconds`` (a number or a handle)."""
        source = self._check_active("sleep")
        if seconds is None or isinstance(seconds, bool | str | list | dict | tuple):
            raise DslError(f"wf.sleep() takes a number of seconds (or a handle to one), got {seconds!r}", str(source))
        if isinstance(seconds, int | float):
            _positive(seconds, "seconds", source)
        self._add_node("sleep", SleepNode, {"seconds": self._expr(seconds)}, source)

    def sleep_until(self, moment: object) -> None:
        """A durable timer until ``moment``: epoch seconds or an ISO-8601 string."""
        source = self._check_active("sleep_until")
        if isinstance(moment, bool) or moment is None or isinstance(moment, list | dict | tuple):
            raise DslError(
                f"wf.sleep_until() takes epoch seconds (a number) or an ISO-8601 string, got {moment!r}",
                str(source),
            )
        if isinstance(moment, int | float):
            problem = moment_problem(moment)
            if problem is not None:
                raise DslError(f"wf.sleep_until(): {problem}, got {moment!r}", str(source))
        self._add_node("sleep-until", SleepUntilNode, {"until": self._expr(moment)}, source)

    # -------------------------------------------------------------- user tasks

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
        source = self._check_active("assign_user_task")
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
            "user": None if user is None else assignee(user, "user", self._recording, source),
            "group": None if group is None else assignee(group, "group", self._recording, source),
            "notes": None if notes is None else assignee(notes, "notes", self._recording, source),
            "timers": [],
        }
        self._use_form(form, source)
        node = self._add_node(f"user-task-{form.name}", UserTaskNode, fields, source)
        return UserTaskOutput(node, self._recording, form.definition)

    def _use_form(self, form: UserTaskForm, source: Source) -> None:
        known = self._recording.forms.get(form.name)
        if known is None:
            self._recording.forms[form.name] = RecordedForm(form.definition, form.source, source)
        elif known.definition != form.definition:
            difference = form_difference(known.definition, form.definition)
            raise DslError(
                f"form {form.name!r} (declared at {form.source}) differs from the form of the same name used at "
                f"{known.first_use} (declared at {known.declared}): {difference}. "
                "A workflow has one form per name: use the same UserTaskForm, or give this one another name",
                str(source),
            )

    # ----------------------------------------------------------------- threads

    def spawn_thread(self, fn: ThreadBody, name: str, inputs: Mapping[str, object] | None = None) -> SpawnedThread:
        """Start a child thread running ``fn``; ``inputs`` set its variables."""
        source = self._check_active("spawn_thread")
        exprs = self._inputs(inputs, source)
        thread = self._record_thread(fn, name, "child", source)
        node = self._add_node(f"spawn-{thread.name}", SpawnThreadNode, {"thread": thread.name, "inputs": exprs}, source)
        return SpawnedThread(node, thread, self._recording)

    def spawn_thread_for_each(
        self,
        items: object,
        fn: ThreadBody,
        name: str,
        inputs: Mapping[str, object] | None = None,
        item_var: str = "item",
    ) -> SpawnedThread:
        """Start one child thread per item of the list ``items``; each child
        finds its item in the variable ``item_var``."""
        source = self._check_active("spawn_thread_for_each")
        if not isinstance(item_var, str) or not _VAR_NAME.fullmatch(item_var):
            raise DslError(
                f"item_var names the child's variable for its item: letters, digits, '_', '-', '.' or ':' "
                f"starting with a letter or '_', got {item_var!r}",
                str(source),
            )
        items_expr = self._expr(items)
        exprs = self._inputs(inputs, source)
        thread = self._record_thread(fn, name, "child", source, {item_var: "json"})
        fields = {"thread": thread.name, "items": items_expr, "item_var": item_var, "inputs": exprs}
        node = self._add_node(f"spawn-{thread.name}", SpawnThreadForEachNode, fields, source)
        return SpawnedThread(node, thread, self._recording)

    def _inputs(self, inputs: Mapping[str, object] | None, source: Source) -> dict[str, Expression]:
        if inputs is None:
            return {}
        if not isinstance(inputs, Mapping) or not all(isinstance(k, str) for k in inputs):
            raise DslError(
                f"inputs map the child's variable names to values, got {inputs!r}: {{\"sku\": sku}}", str(source)
            )
        return {name: self._expr(value) for name, value in inputs.items()}

    def wait_for_threads(
        self,
        *threads: SpawnedThread,
        strategy: ThreadStrategy | str = ThreadStrategy.ALL,
        timeout: float | None = None,
    ) -> NodeOutput:
        """Wait for child threads; returns a handle to their outputs, in spawn order."""
        source = self._check_active("wait_for_threads")
        for thread in threads:
            if not isinstance(thread, SpawnedThread):
                raise DslError(f"wait_for_threads() takes what spawn_thread() returned, got {thread!r}", str(source))
            if thread.recording is not self._recording:
                raise DslError(
                    f"{thread!r} comes from another workflow (or another compile of this one); wait only for "
                    "threads this workflow function spawned",
                    str(source),
                )
        if not threads:
            raise DslError("wait_for_threads() needs at least one spawned thread", str(source))
        try:
            chosen = ThreadStrategy(strategy)
        except ValueError:
            raise DslError(f"strategy must be ALL, FIRST or ANY, got {strategy!r}", str(source)) from None
        spawn_nodes = [t.node for t in threads]
        fields = {"threads": spawn_nodes, "strategy": chosen.value, "timeout": _positive(timeout, "timeout", source)}
        return NodeOutput(self._add_node("wait-for-threads", WaitForThreadsNode, fields, source), self._recording)

    def complete(self, value: object = None) -> None:
        """End this thread, with ``value`` as its output."""
        source = self._check_active("complete")
        self._add_node("exit", ExitNode, {"output": None if value is None else self._expr(value)}, source)

    # ---------------------------------------------------------------- failures

    def _handler(self, node: object, handler: ThreadBody, on: str, name: str | None, verb: str) -> None:
        source = self._check_active(verb)
        if not isinstance(node, NodeOutput):
            raise DslError(
                f"wf.{verb}() takes the handle a node returned, got {node!r}: "
                f"charge = wf.execute(\"charge-card\"); wf.{verb}(charge, handler)",
                str(source),
            )
        if node.recording is not self._recording:
            self._expr(node)
        if any(h.on == on and h.name == name for h in node.node.handlers):
            what = f"{on} {name!r}" if name else f"every {on}" if on != "any" else "any failure"
            self._problem(f"node {node.node.id!r} already has a handler for {what}; register one handler "
                          "per failure, and do several things inside it", source)
            return
        # Error codes are upper case by convention; exception names are the user's and kept as given.
        suffix = {"error": (name or "error").lower(), "exception": name or "exception", "any": "failure"}[on]
        thread_name = unique_thread_name(self._recording, f"{node.node.id}-on-{suffix}")
        thread = self._record_thread(handler, thread_name, "handler", source, {"failure": "json"})
        node.node.handlers.append(RecordedHandler(on, name, thread, source))  # type: ignore[arg-type]
        if node.node.thread is not self._thread:
            self._problem(
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
            _check_stored_name(name, "exception name", caller_source())
        self._handler(node, handler, "exception", name, "handle_exception")

    def handle_any_failure(self, node: NodeOutput, handler: ThreadBody) -> None:
        """Run ``handler`` when ``node`` fails in any way; the thread then
        continues after the node."""
        self._handler(node, handler, "any", None, "handle_any_failure")

    def fail(self, name: str, message: str = "", content: object = None) -> None:
        """Fail the thread with the business exception ``name``."""
        source = self._check_active("fail")
        if not isinstance(name, str) or not name.strip():
            raise DslError(
                f"a failure name is a non-empty string, got {name!r}: wf.fail(\"out-of-stock\", \"...\")", str(source)
            )
        if not isinstance(message, str):
            raise DslError(f"the failure message is a string, got {message!r}", str(source))
        _check_stored_name(name, "failure name", source)
        _check_stored_name(message, "failure message", source)
        fields = {"failure": name, "message": message, "content": None if content is None else self._expr(content)}
        self._add_node(f"fail-{name}", FailNode, fields, source)

    def compensate(self) -> None:
        """Run the compensations of every completed step now, in reverse
        order, and end the run as COMPENSATED."""
        source = self._check_active("compensate")
        self._add_node("compensate", CompensateNode, {}, source)

    def add_interrupt_handler(self, event_name: str, handler: ThreadBody) -> None:
        """When ``event_name`` arrives, pause this thread and its children,
        run ``handler`` (the payload is in its ``event`` variable), then resume."""
        source = self._check_active("add_interrupt_handler")
        if not isinstance(event_name, str) or not event_name.strip():
            raise DslError(f"an event name is a non-empty string, got {event_name!r}", str(source))
        _check_stored_name(event_name, "event name", source)
        first = next((i for i in self._thread.interrupts if i.event == event_name), None)
        if first is not None:
            self._problem(f"thread {self.name!r} already has an interrupt handler for event {event_name!r} "
                          f"(at {first.source}); register one handler per event, and do several things "
                          "inside it", source)
            return
        thread_name = unique_thread_name(self._recording, f"interrupt-{event_name}")
        thread = self._record_thread(handler, thread_name, "interrupt", source, {"event": "json"})
        self._thread.interrupts.append(RecordedInterrupt(event_name, thread, source))


class IfChain:
    """What ``do_if`` returns, to chain ``do_elif`` and ``do_else``."""

    def __init__(self, thread: WorkflowThread, branch: RecordedNode, join: RecordedNode) -> None:
        self._thread = thread
        self._branch = branch
        self._join = join
        self._additions = thread._additions
        self._has_else = False

    def _enter(self, verb: str) -> RecordedEdge:
        thread = self._thread
        thread._check_active(verb)
        if self._has_else:
            raise DslError(f"{verb}() after do_else(): the else branch must come last", str(caller_source()))
        if thread._additions != self._additions:
            raise DslError(
                f"{verb}() must be chained right after do_if(): wf.do_if(a, f).{verb}(...), with no "
                "other step in between",
                str(caller_source()),
            )
        fallback = self._branch.edges[-1]
        return fallback

    def _run(self, edge: RecordedEdge, body: ThreadBody, verb: str) -> None:
        thread = self._thread
        after_join = thread._open
        thread._open = edge
        thread._run_body(body, verb)
        if thread._open is not None:
            thread._open.to = self._join.id
        thread._open = after_join
        self._additions = thread._additions

    def do_elif(self, condition: Expression, body: ThreadBody) -> IfChain:
        """Another branch, tried when the earlier conditions do not hold."""
        fallback = self._enter("do_elif")
        cond = self._thread._condition(condition, "do_elif")
        edge = RecordedEdge(to="", when=cond, source=caller_source())
        self._branch.edges.insert(len(self._branch.edges) - 1, edge)
        self._run(edge, body, "do_elif")
        del fallback
        return self

    def do_else(self, body: ThreadBody) -> None:
        """The branch taken when no condition holds."""
        fallback = self._enter("do_else")
        self._has_else = True
        self._run(fallback, body, "do_else")


def _valid_backoff(backoff: object) -> bool:
    if not isinstance(backoff, Backoff):
        return False
    values = (backoff.initial, backoff.multiplier, backoff.maximum)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        return False
    within = duration_problem(backoff.maximum) is None  # initial <= maximum, so it is within too
    return backoff.initial > 0 and backoff.multiplier >= 1 and backoff.maximum >= backoff.initial and within


def _positive(value: float | None, what: str, source: Source) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise DslError(f"{what} is a number of seconds > 0, got {value!r}", str(source))
    problem = duration_problem(value)
    if problem is not None:
        raise DslError(f"{what}: {problem}, got {value!r}", str(source))
    return float(value)


def _check_stored_name(text: str, what: str, source: Source) -> None:
    """A name the database stores as text: valid Unicode, without NUL (PostgreSQL refuses it)."""
    problem = text_problem(text) or ("it contains a NUL character, which the database cannot store"
                                     if "\x00" in text else None)
    if problem is not None:
        raise DslError(f"the {what} cannot be stored: {problem}", str(source))


def _check_retries(retries: object, source: Source, example: str) -> None:
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_INT:
        raise DslError(f"retries must be an int from 0 to {MAX_INT}, got {retries!r}{example}", str(source))


def _is_output(result: object) -> bool:
    """Whether a thread function's return value is meant as its output."""
    return result is not None and not isinstance(result, IfChain)


def check_output(value: object, recording: Recording, source: Source) -> None:
    """Refuse a returned value that cannot be a thread's output, at the thread's source."""
    if isinstance(value, Expression):
        return
    if isinstance(value, SpawnedThread):
        raise DslError(
            f"a thread function returned {value!r}; return wf.wait_for_threads(...)'s output instead",
            str(source),
        )
    try:
        to_expression(value, recording)
    except DslError as exc:
        raise DslError(f"the value a thread function returns is its output, and {exc}", str(source)) from None


def unique_thread_name(recording: Recording, base: str) -> str:
    """A name for a thread wfc names itself (handlers, interrupts): ``base``,
    else ``base-2``, ``base-3``, …"""
    # Built from node ids and the user's exception or event names: keep it a valid thread name.
    base = _ID_UNSAFE.sub("-", base).strip("-") or "thread"
    name, count = base, 1
    while name in recording.threads:
        count += 1
        name = f"{base}-{count}"
    return name


#: What a thread function is called in an error, and how to write one.
BODY_KINDS = {
    "workflow": ("a workflow function", "def checkout(wf: WorkflowThread) -> None: ..."),
    "thread": ("a thread function", "def ship_item(t: WorkflowThread) -> None: ..."),
}


def record_thread(
    recording: Recording,
    fn: ThreadBody,
    name: str,
    kind: ThreadKind,
    parent: RecordedThread | None,
    source: Source,
    implicit: Mapping[str, VarType],
) -> RecordedThread:
    """Run ``fn`` with a fresh builder and return the thread it recorded."""
    if not callable(fn):
        raise DslError(
            f"a thread function must be callable, taking a WorkflowThread, got {fn!r}: "
            "def ship_item(t: WorkflowThread) -> None: ...",
            str(source),
        )
    body_kind = BODY_KINDS["workflow" if kind == "entrypoint" else "thread"]
    refuse_async(fn, *body_kind, source)
    if not isinstance(name, str) or not _THREAD_NAME.fullmatch(name):
        raise DslError(
            f"a thread name is letters, digits, '_', '-', '.' or ':' (no spaces), got {name!r}: "
            'wf.spawn_thread(ship, "ship-item")',
            str(source),
        )
    if name in recording.threads:
        recording.problems.append(Problem(
            f"thread name {name!r} is already used (at {recording.threads[name].source}); "
            "give each spawned thread its own name", source))
        name = f"{name}-{len(recording.threads) + 1}"
    thread = RecordedThread(name, kind, parent, source)
    for var_name, var_type in implicit.items():
        thread.variables[var_name] = RecordedVariable(var_name, var_type, thread, source, implicit=True)
    recording.threads[name] = thread
    builder = WorkflowThread(recording, thread)
    builder._add_node("entrypoint", EntrypointNode, {}, source)
    recording.active.append(builder)
    try:
        result = fn(builder)
        refuse_awaitable(result, *body_kind, source)
        if kind in ("entrypoint", "child") and _is_output(result) and builder._open is not None:
            check_output(result, recording, source)
            builder._add_node("exit", ExitNode, {"output": builder._expr(result)}, source)
        if builder._open is not None:
            builder._add_node("exit", ExitNode, {"output": None}, source)
    finally:
        recording.active.pop()
    return thread
