"""The ASGI application of the API for one open engine (Starlette)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wfc.runtime import Engine
from wfc.server import _problems
from wfc.server._access import AccessError, Tokens
from wfc.server._dashboard import dashboard_routes
from wfc.server._endpoints import ENDPOINTS
from wfc.server._http import Dispatcher, json_response
from wfc.server._openapi import openapi
from wfc.server._types import MAX_BODY, PREFIX

if TYPE_CHECKING:
    from wfc.runtime.metrics import Metrics


def make_app(
    engine: Engine,
    token: str | None = None,
    *,
    read_token: str | None = None,
    max_body: int = MAX_BODY,
    metrics: Metrics | None = None,
) -> Starlette:
    """The app of :func:`wfc.server.create_app` (which documents it)."""
    if (token is not None and not token.strip()) or (read_token is not None and (token is None or not read_token)):
        raise AccessError("create_app: read_token needs token, and neither may be empty")
    dispatcher = Dispatcher(engine, Tokens(token, read_token), max_body)
    routes: list[BaseRoute] = [
        Route(PREFIX + e.path, dispatcher.endpoint(e), methods=[e.method], name=e.operation) for e in ENDPOINTS
    ]
    document = openapi(ENDPOINTS, _version(), PREFIX)

    async def openapi_json(request: Request) -> Response:
        return json_response(document)

    routes.append(Route(PREFIX + "/openapi.json", openapi_json, methods=["GET"], name="openapi"))
    routes.extend(dashboard_routes())
    # The probes also at the root, where orchestrators look for them.
    for e in ENDPOINTS:
        if e.public:
            routes.append(Route(e.path, dispatcher.endpoint(e), methods=[e.method]))
    if metrics is not None:  # imported only then: prometheus_client is the `metrics` extra
        from wfc.server._metrics import PATH, metrics_endpoint

        routes.append(Route(PATH, metrics_endpoint(dispatcher, metrics), methods=["GET"], name="metrics"))
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_problem, Exception: _internal})


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, wrong method) as problems."""
    if not isinstance(exc, HTTPException):
        return await _internal(request, exc)
    detail = {
        404: f"no endpoint at {request.url.path}; the API is under {PREFIX}, described at {PREFIX}/openapi.json",
        405: f"{request.method} is not allowed on {request.url.path}; see {PREFIX}/openapi.json",
    }.get(exc.status_code, str(exc.detail))
    kind = {404: "no-such-endpoint", 405: "method-not-allowed"}.get(exc.status_code, "http")
    headers: dict[str, Any] = dict(exc.headers or {})
    return _problems.response(_problems.make(exc.status_code, kind, detail), headers=headers)


async def _internal(request: Request, exc: Exception) -> Response:
    return _problems.response(_problems.problem_of(exc))


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("wfc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
