"""Variables: ``wf.declare_*``, ``wf.variable`` and ``wf.mutate``."""

from __future__ import annotations

import enum

from wfc.dsl.builder import CallGroup
from wfc.dsl.checks import VARIABLE_NAME
from wfc.dsl.errors import DslError
from wfc.dsl.handles import VariableHandle
from wfc.dsl.recording import RecordedMutation, RecordedVariable
from wfc.specs import MUTATION_OPS, VarType


class VariableCalls(CallGroup):
    """The calls of ``WorkflowThread`` that declare, find and change variables."""

    def _declare(self, name: str, var_type: VarType) -> VariableHandle:
        core = self._core
        source = core.check_active(f"declare_{var_type}")
        if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
            raise DslError(
                f"a variable name is a string of letters, digits, '_', '-', '.' or ':' starting with a "
                f"letter or '_', got {name!r}: write wf.declare_{var_type}(\"order-id\")",
                str(source),
            )
        variable = RecordedVariable(name, var_type, core.thread, source)
        existing = core.thread.variables.get(name)
        if existing is not None and not existing.implicit:
            core.thread.duplicate_variables.append((existing, variable))
            return VariableHandle(existing, core.recording)
        outer = core.thread.parent.visible_variable(name) if core.thread.parent else None
        if outer is not None and existing is None:
            core.problem(
                f"variable {name!r} hides the variable of the same name declared in thread "
                f"{outer.thread.name!r} at {outer.source}; choose another name",
                source,
            )
        core.thread.variables[name] = variable
        return VariableHandle(variable, core.recording)

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
        core = self._core
        source = core.check_active("variable")
        found = core.thread.visible_variable(name)
        if found is None:
            visible = sorted({n for t in [core.thread, *core.thread.ancestors()] for n in t.variables})
            raise DslError(
                f"no variable {name!r} is visible in thread {self.name!r}; visible: {visible or 'none'}",
                str(source),
            )
        return VariableHandle(found, core.recording)

    def mutate(self, variable: VariableHandle, op: str, value: object) -> None:
        """Change ``variable`` when the thread leaves its current node.

        ``op`` is one of ``assign``, ``add``, ``subtract``, ``multiply``,
        ``divide``, ``append``, ``extend``, ``remove``, ``remove_key``.
        """
        core = self._core
        source = core.check_active("mutate")
        if not isinstance(variable, VariableHandle):
            raise DslError(
                f"wf.mutate() changes a declared variable, got {variable!r}: "
                "write wf.mutate(total, \"add\", 1) with total = wf.declare_int(\"total\")",
                str(source),
            )
        op_name = op.value if isinstance(op, enum.Enum) else op
        if op_name not in MUTATION_OPS:
            raise DslError(f"unknown mutation {op!r}; use one of: {', '.join(MUTATION_OPS)}", str(source))
        expr = core.expr(value)
        if variable.recording is not core.recording:
            core.expr(variable)
        if core.open is None:
            core.problem("this change of a variable comes after the thread ended and never happens", source)
            return
        core.open.mutations.append(RecordedMutation(variable.variable, str(op_name), expr, source))
        core.additions += 1
