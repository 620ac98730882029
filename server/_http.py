"""The machinery between HTTP and an endpoint function: the endpoint table's
type, reading and checking a request (size, JSON, fields, token), and
encoding the answer. Every route of the API is an :class:`Endpoint`, so the
router, the access rules and the OpenAPI document come from one table.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from wfc.runtime import Engine
from wfc.server import _problems
from wfc.server._access import Tokens, host_name, is_loopback, origin_authority
from wfc.server._paths import path_params
from wfc.server._problems import ProblemError
from wfc.server._types import MAX_BODY
from wfc.specs.limits import MAX_JSON_DEPTH, repeated_key

Q = TypeVar("Q")
B = TypeVar("B")


@dataclass(frozen=True)
class Call(Generic[Q, B]):
    """One request as an endpoint sees it: checked and decoded."""

    engine: Engine
    path: dict[str, str]
    query: Q
    body: B
    traceparent: str | None = None
    """The request's W3C ``traceparent`` header, if any."""


@dataclass(frozen=True)
class Reply:
    """A response other than the endpoint's usual one: another status code."""

    value: msgspec.Struct
    status: int


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API."""

    method: str
    path: str
    """Under ``/api/v1``, with ``{name}`` parameters (Starlette's syntax)."""
    operation: str
    """The OpenAPI operationId."""
    summary: str
    handler: Handler
    response: type[Any]
    query: type[Any] | None = None
    body: type[Any] | None = None
    status: int = 200
    other_statuses: tuple[int, ...] = ()
    """Success statuses besides ``status`` (e.g. 200 for a repeated start)."""
    cli: tuple[str, ...] = field(default=())
    """The CLI verbs this endpoint does remotely (``runs cancel``), for the parity test."""
    public: bool = False
    """No token needed (health probes, the OpenAPI document)."""
    media_type: str = "application/json"
    """Of a successful answer; ``response`` describes it (each line of JSON
    lines, each event of ``text/event-stream``)."""
    tags: tuple[str, ...] = ()

    @property
    def mutates(self) -> bool:
        """Whether it changes anything (needs the read-write token)."""
        return self.method != "GET"


class Dispatcher:
    """Turns the requests of each endpoint into calls on one engine, with its tokens."""

    def __init__(self, engine: Engine, tokens: Tokens, max_body: int = MAX_BODY) -> None:
        self._engine = engine
        self._tokens = tokens
        self._max_body = max_body

    def endpoint(self, spec: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        """The Starlette endpoint function of ``spec``."""

        async def serve(request: Request) -> Response:
            try:
                if not spec.public:
                    self._authorize(spec, request)
                call = Call(
                    engine=self._engine,
                    path=path_params(request),
                    query=decode_query(request, spec.query),
                    body=await self._decode_body(request, spec.body),
                    traceparent=request.headers.get("traceparent"),
                )
                result = await spec.handler(call)
            except ClientDisconnect:
                # The client hung up before its body ended: no one reads an
                # answer, and it is no fault of wfc's to log.
                return Response(status_code=400)
            except Exception as exc:
                return _problems.error_response(exc)
            if isinstance(result, Response):  # a stream the endpoint made itself
                return result
            if isinstance(result, Reply):
                return json_response(result.value, result.status)
            return json_response(result, spec.status)

        return serve

    def authorize_read(self, request: Request) -> None:
        """Refuse (401) a request without a token this server accepts for
        reads (the token or the read-only one), when it needs tokens."""
        self._grant(request)

    def _authorize(self, spec: Endpoint, request: Request) -> None:
        grant = self._grant(request)
        if spec.mutates and not self._tokens.required:
            _check_same_origin(request)
        if spec.mutates and grant != "write":
            raise ProblemError(
                403,
                "read-only-token",
                f"{spec.method} {spec.path} changes runs and the read-only token may only read; use the token "
                f"given to the server with --token",
            )

    def _grant(self, request: Request) -> str:
        if not self._tokens.required:
            _check_loopback_host(request)
            return "write"
        sent = request.headers.get("authorization")
        grant = self._tokens.grant(sent)
        if grant is None:
            raise ProblemError(
                401,
                "unauthorized",
                "this server needs a token: send the header `Authorization: Bearer <token>` with the token the "
                "server was started with (--token, or --read-token for reads)",
                headers={"WWW-Authenticate": _challenge(sent)},
            )
        return grant

    async def _decode_body(self, request: Request, kind: type[Any] | None) -> Any:
        if kind is None:
            return None
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self._max_body:
                raise self._too_large()
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raw = b"{}"  # no body: every field has its default (or is reported missing)
        try:
            body = msgspec.json.decode(raw, type=kind)
        except msgspec.ValidationError as exc:
            raise ProblemError(422, "invalid-request", f"invalid request body: {exc}") from None
        except msgspec.DecodeError as exc:
            raise ProblemError(400, "bad-json", f"the request body is not JSON: {exc}") from None
        except RecursionError:  # msgspec's decoder recurses: about 1,000 levels reach Python's limit
            raise ProblemError(
                422, "invalid-request", f"invalid request body: JSON nested deeper than {MAX_JSON_DEPTH} levels"
            ) from None
        twice = repeated_key(raw)  # msgspec keeps the last of the two, silently
        if twice is not None:
            raise ProblemError(422, "invalid-request", f"invalid request body: {twice}")
        return body

    def _too_large(self) -> ProblemError:
        return ProblemError(
            413, "body-too-large", f"the request body is larger than the limit of {self._max_body} bytes"
        )


def _challenge(sent: str | None) -> str:
    """The ``WWW-Authenticate`` of a 401 (RFC 9110 requires one; RFC 6750
    says how a bearer token is asked for, and that a token sent and
    refused is an ``invalid_token``)."""
    if sent is None:
        return 'Bearer realm="wfc"'
    return 'Bearer realm="wfc", error="invalid_token", error_description="not a token this server accepts"'


def _check_loopback_host(request: Request) -> None:
    """Refuse (403) a request to a server without tokens that names it by
    anything but a loopback address (see :mod:`wfc.server._access`)."""
    host = request.headers.get("host", "")
    if not is_loopback(host_name(host)):
        raise ProblemError(
            403,
            "host-not-allowed",
            f"this server has no token, so it answers only requests addressed to it by a loopback name "
            f"(localhost, 127.0.0.1, [::1]), not by {host!r}: a page of another site can make its own name point "
            "here. Use http://localhost:PORT, or start the server with --token to reach it by other names",
        )


def _check_same_origin(request: Request) -> None:
    """Refuse (403) a change that a page of another origin sent to a server
    without tokens (see :mod:`wfc.server._access`)."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not from a browser's page: curl, a client library
    if origin_authority(origin) != request.headers.get("host", "").strip().lower():
        raise ProblemError(
            403,
            "cross-origin",
            f"a page of {origin!r} may not change runs on this server: it has no token that would tell such a "
            "page from its user. Use the dashboard this server serves, a client that sends no Origin (curl, "
            "a script), or start the server with --token",
        )


#: Where a value of a request came from, as a problem with it names it.
Source = Literal["query parameter", "field"]


def invalid(source: Source, name: str, problem: str) -> ProblemError:
    """The 422 of one refused value: ``invalid field 'finished_before': …``."""
    return ProblemError(422, "invalid-request", f"invalid {source} {name!r}: {problem}")


def read_moment(text: str, name: str, source: Source) -> dt.datetime:
    """A moment a request gives, read as ``wfc runs list`` reads ``--since``,
    except that a date/time without an offset is UTC: the server's own
    time zone is nothing its clients can know."""
    import typer

    from wfc.cli.runs_cmd import parse_moment

    try:
        return parse_moment(text, name, zone=dt.UTC)
    except typer.BadParameter as exc:
        raise invalid(source, name, exc.message) from None


def decode_query(request: Request, kind: type[Any] | None) -> Any:
    """The query string as ``kind``: a parameter repeated for a list field
    gives the list; an unknown parameter is refused (422)."""
    if kind is None:
        if request.query_params:
            names = ", ".join(sorted(request.query_params))
            raise ProblemError(422, "invalid-request", f"unknown query parameter(s) {names}: this endpoint takes none")
        return None
    fields = msgspec.structs.fields(kind)
    lists = {f.name for f in fields if _is_list(f.type)}
    values: dict[str, Any] = {}
    for name, value in request.query_params.multi_items():
        if name in lists:
            values.setdefault(name, []).append(value)
        elif name in values:
            raise ProblemError(422, "invalid-request", f"query parameter {name!r} is given more than once")
        else:
            values[name] = value
    _check_query_names(values, fields)
    try:
        return msgspec.convert(values, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise ProblemError(422, "invalid-request", _query_error(str(exc), fields)) from None


def _check_query_names(values: dict[str, Any], fields: tuple[msgspec.structs.FieldInfo, ...]) -> None:
    """Unknown and missing parameters, named in the API's terms (msgspec
    would speak of an object's fields), with the ones the endpoint takes."""
    known = [f.encode_name for f in fields]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ProblemError(
            422,
            "invalid-request",
            f"unknown query parameter(s) {', '.join(map(repr, unknown))}; this endpoint takes "
            f"{', '.join(map(repr, known))}",
        )
    missing = [f.encode_name for f in fields if f.required and f.encode_name not in values]
    if missing:
        raise ProblemError(
            422, "invalid-request", f"missing query parameter(s) {', '.join(map(repr, missing))}: give a value"
        )


def _query_error(message: str, fields: tuple[msgspec.structs.FieldInfo, ...]) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.limit``` as
    ``invalid query parameter 'limit': expected `int`, got `str```, with the
    values a parameter of choices takes."""
    problem, _, where = message.rpartition(" - at `$.")
    if not problem:
        return f"invalid query parameter: {message}"
    name = where.rstrip("`").split("[", 1)[0]
    text = f"invalid query parameter {name!r}: {problem[:1].lower()}{problem[1:]}"
    choices = _choices(next((f.type for f in fields if f.encode_name == name), None))
    return f"{text}; give one of {', '.join(choices)}" if choices else text


def _choices(annotation: Any) -> list[str]:
    """The values of an enum parameter (or of a list of them)."""
    if _is_list(annotation):
        annotation = annotation.__args__[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    return []


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list


_ENCODER = msgspec.json.Encoder()


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response of ``value`` (a Struct, or data msgspec encodes)."""
    return Response(_ENCODER.encode(value), status_code=status, media_type="application/json")
