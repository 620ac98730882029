"""Retry policy of task nodes: which value wins, and the backoff delays.

Precedence, field by field: the spec's value is the workflow author's choice
and wins; the ``@task(...)`` value is the default when the spec leaves the
field unset; then the engine default. "Unset" is ``None`` (omitted from the
spec's JSON) for every field; a spec ``retries: 0`` is the author's choice of
no retries and wins over the task's default. (A ``wfc/1`` spec wrote an unset
``retries`` as ``0``; :mod:`wfc.specs.formats` reads that back as ``None``.)
"""

from __future__ import annotations

import hashlib

from wfc.runtime.interpreter.messages import TaskPolicy
from wfc.specs import Backoff, TaskNode

DEFAULT_BACKOFF = Backoff()


def effective_retries(node: TaskNode, default: TaskPolicy | None) -> int:
    """Attempts after the first one for technical errors: the spec's count,
    else the task's default, else 0."""
    if node.retries is not None:
        return node.retries
    if default is not None and default.retries is not None:
        return default.retries
    return 0


def effective_backoff(node: TaskNode, default: TaskPolicy | None) -> Backoff:
    """The backoff between attempts."""
    if node.backoff is not None:
        return node.backoff
    if default is not None and default.backoff is not None:
        return default.backoff
    return DEFAULT_BACKOFF


def effective_timeout(node: TaskNode, default: TaskPolicy | None) -> float | None:
    """Seconds one attempt may take, or ``None`` for no limit."""
    if node.timeout is not None:
        return node.timeout
    return default.timeout if default is not None else None


def retry_delay(backoff: Backoff, failed_attempt: int, key: str) -> float:
    """Seconds to wait after attempt ``failed_attempt`` (1-based) failed.

    Exponential (``initial * multiplier**(n-1)``, capped at ``maximum``) with
    "equal jitter": between half and all of that. The jitter is a hash of the
    idempotency key and attempt rather than a random draw, so the interpreter
    stays a pure function and replays give the same schedule, while different
    runs still spread out.
    """
    try:
        base = min(backoff.initial * backoff.multiplier ** (failed_attempt - 1), backoff.maximum)
    except OverflowError:  # a large multiplier after many attempts: long past the cap
        base = backoff.maximum
    digest = hashlib.blake2b(f"{key}#{failed_attempt}".encode(), digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2**64
    return max(0.0, base * (0.5 + 0.5 * unit))
