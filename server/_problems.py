"""Errors as RFC 9457 problem documents (``application/problem+json``).

Every failure a request can meet becomes a :class:`Problem` with a 4xx status
and the same message the CLI prints for it (the engine's error messages); only
a bug in wfc is a 500, and its details stay in the server's log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus

import msgspec
from starlette.responses import Response

from wfc.runtime.errors import (
    ConflictError,
    MissingTasksError,
    ReadOnlyDatabaseError,
    RunStateError,
    StoreError,
    UnknownRunError,
    UnknownUserTaskError,
    UnknownWorkflowError,
    UsageError,
    UserTaskValuesError,
)
from wfc.runtime.interpreter.errors import InputError
from wfc.server._types import FieldError, Problem
from wfc.specs.errors import WfcError

log = logging.getLogger("wfc.server")

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """A request the server refuses, with its status and message, and the
    headers its status calls for (``WWW-Authenticate`` for a 401)."""

    def __init__(self, status: int, kind: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = dict(headers or {})


def _kind(exc: BaseException) -> str:
    """``UnknownRunError`` -> ``unknown-run``."""
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower() or "error"


def status_of(exc: WfcError) -> int:
    """The HTTP status of an engine error."""
    match exc:
        case UnknownRunError() | UnknownWorkflowError() | UnknownUserTaskError():
            return 404
        case ConflictError() | RunStateError():
            return 409
        case ReadOnlyDatabaseError():
            return 503
        case StoreError():
            return 503
        case InputError() | UsageError() | MissingTasksError() | UserTaskValuesError():
            return 422
    return 400


def problem_of(exc: BaseException) -> Problem:
    """The problem document for an exception raised while serving a request."""
    match exc:
        case ProblemError(status=status, kind=kind, detail=detail):
            return make(status, kind, detail)
        case UserTaskValuesError(problems=problems):
            # Each field's problem on its own too, for a form to show beside the field.
            errors = [FieldError(field=field, message=message) for field, message in problems]
            return msgspec.structs.replace(make(422, _kind(exc), str(exc)), errors=errors)
        case WfcError():
            return make(status_of(exc), _kind(exc), str(exc))
    log.error("internal error serving a request", exc_info=exc)
    return make(
        500,
        "internal",
        f"internal error: {type(exc).__name__}. This is a bug in wfc, not in your workflow; the server's log "
        f"has the traceback, and please report it.",
    )


def make(status: int, kind: str, detail: str) -> Problem:
    """A problem of ``status``; ``kind`` names it (``unknown-run``)."""
    return Problem(type=f"urn:wfc:problem:{kind}", title=HTTPStatus(status).phrase, status=status, detail=detail)


def error_response(exc: BaseException) -> Response:
    """The response to a request that raised ``exc``: its problem, with the
    headers a :class:`ProblemError` asks for."""
    return response(problem_of(exc), exc.headers if isinstance(exc, ProblemError) else None)


def response(problem: Problem, headers: Mapping[str, str] | None = None) -> Response:
    """The HTTP response carrying ``problem``."""
    return Response(msgspec.json.encode(problem), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)
