"""``Workflow``: a named workflow function, recorded fresh on every compile."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from wfc.dsl.bodies import refuse_async
from wfc.dsl.builder import ThreadBody
from wfc.dsl.errors import DslError
from wfc.dsl.recording import Recording
from wfc.dsl.source import caller_source
from wfc.dsl.thread import WorkflowThread
from wfc.dsl.threads import BODY_KINDS, record_thread

if TYPE_CHECKING:
    from wfc.specs import WorkflowSpec

#: Name of the thread every run starts in.
ENTRYPOINT_THREAD = "main"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")


class Workflow:
    """A workflow: a name and the function that builds its graph.

    ``Workflow("checkout", checkout)`` does not run ``checkout``; compiling
    does, with a fresh recording each time, so compiling twice gives the same
    spec and nothing is mutated.
    """

    def __init__(self, name: str, fn: ThreadBody) -> None:
        source = caller_source()
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise DslError(
                "a workflow name is letters, digits, '_', '-', '.' or ':' (no spaces), "
                f"got {name!r}: Workflow(\"checkout\", checkout)",
                str(source),
            )
        if not callable(fn):
            raise DslError(
                f"Workflow() needs the workflow function as its second argument, got {fn!r}: "
                "def checkout(wf: WorkflowThread) -> None: ...; Workflow(\"checkout\", checkout)",
                str(source),
            )
        refuse_async(fn, *BODY_KINDS["workflow"], source)
        self.name = name
        self.fn = fn
        self.source = source

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, {getattr(self.fn, '__qualname__', self.fn)!r})"

    def record(self) -> Recording:
        """Run the workflow function and return what it recorded."""
        recording = Recording(self.name)
        try:
            recording.entrypoint = record_thread(
                WorkflowThread, recording, self.fn, ENTRYPOINT_THREAD, "entrypoint", None, self.source, {}
            )
        finally:
            recording.finished = True
        return recording

    def compile(self, previous: WorkflowSpec | None = None) -> WorkflowSpec:
        """Compile to a spec; see :func:`wfc.compiler.compile_workflow`."""
        from wfc.compiler import compile_workflow

        return compile_workflow(self, previous=previous)
