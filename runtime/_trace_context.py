"""A run's trace context: the W3C ``traceparent`` stored with the run.

Made at start (:meth:`~wfc.runtime.Engine.start`), either from the caller's
``traceparent`` (the run's spans join the caller's trace, under the caller's
span) or with a new random trace id (the run's span is the trace's root),
and written with the run's first commit (migration 6), so every process that
exports the run's spans, before or after a crash, uses the same trace.
Plain text and the standard library only: starting a run never imports
OpenTelemetry.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Final

from wfc.runtime.errors import UsageError

_TRACEPARENT: Final = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_NO_PARENT: Final = "0" * 16
_NO_TRACE: Final = "0" * 32
_EXAMPLE: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@dataclass(frozen=True)
class TraceContext:
    """The trace a run's spans belong to."""

    trace_id: int
    parent_span_id: int | None
    """The caller's span the run's span hangs under; ``None``: the run's span
    is the trace's root."""
    sampled: bool

    def traceparent(self) -> str:
        """The stored form: ``00-<trace id>-<parent span id or 16 zeros>-<flags>``."""
        parent = _NO_PARENT if self.parent_span_id is None else f"{self.parent_span_id:016x}"
        return f"00-{self.trace_id:032x}-{parent}-{'01' if self.sampled else '00'}"


def parse_traceparent(text: str) -> TraceContext:
    """A caller's W3C ``traceparent`` header value.

    Raises:
        UsageError: it is not a valid ``traceparent``; the message says why
            and shows a valid one.
    """
    if not isinstance(text, str):
        raise UsageError(f"traceparent must be a string like {_EXAMPLE!r}, got {type(text).__name__}")
    match = _TRACEPARENT.match(text.strip().lower())
    problem = None
    if match is None:
        problem = "it is not four dash-separated hex fields (version, 32-digit trace id, 16-digit span id, flags)"
    elif match.group(1) == "ff":
        problem = "version ff is forbidden by the W3C Trace Context format"
    elif match.group(1) == "00" and match.group(5) is not None:
        problem = "version 00 has exactly four fields"
    elif int(match.group(2), 16) == 0:
        problem = "its trace id is all zeros"
    elif int(match.group(3), 16) == 0:
        problem = "its parent span id is all zeros"
    if problem is not None or match is None:
        raise UsageError(f"traceparent {text!r} is not a W3C traceparent: {problem}; expected e.g. {_EXAMPLE!r}")
    return TraceContext(
        trace_id=int(match.group(2), 16),
        parent_span_id=int(match.group(3), 16),
        sampled=bool(int(match.group(4), 16) & 1),
    )


def new_trace_context() -> TraceContext:
    """A new trace whose root is the run's span (random trace id, sampled)."""
    trace_id = 0
    while trace_id == 0:
        trace_id = secrets.randbits(128)
    return TraceContext(trace_id=trace_id, parent_span_id=None, sampled=True)


def stored_trace(text: str | None, run_id: str) -> TraceContext:
    """The trace context stored with run ``run_id``. A run started before
    wfc stored one (``None``) gets a trace id derived from its id, the same
    in every process."""
    if text is not None:
        match = _TRACEPARENT.match(text)
        if match is not None:
            parent = int(match.group(3), 16)
            return TraceContext(int(match.group(2), 16), parent or None, bool(int(match.group(4), 16) & 1))
    derived = int.from_bytes(hashlib.blake2b(f"wfc-run/{run_id}".encode(), digest_size=16).digest(), "big")
    return TraceContext(trace_id=derived or 1, parent_span_id=None, sampled=True)


def start_trace(traceparent: str | None) -> str:
    """What :meth:`~wfc.runtime.Engine.start` stores for a new run (a
    microsecond when no traceparent is given: every start pays it)."""
    if traceparent is None:
        trace_id = secrets.token_hex(16)
        return f"00-{trace_id}-{_NO_PARENT}-01" if trace_id != _NO_TRACE else new_trace_context().traceparent()
    return parse_traceparent(traceparent).traceparent()
