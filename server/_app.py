"""The ASGI application of the API for one open engine (Starlette)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp

from wfc.runtime import Engine
from wfc.server import _problems
from wfc.server._access import AccessError, Tokens
from wfc.server._dashboard import dashboard_routes
from wfc.server._endpoints import ENDPOINTS
from wfc.server._headers import SecurityHeaders
from wfc.server._http import Dispatcher, Endpoint, json_response
from wfc.server._openapi import openapi
from wfc.server._paths import EncodedSlashes
from wfc.server._types import MAX_BODY, PREFIX

if TYPE_CHECKING:
    from wfc.runtime.metrics import Metrics

#: A Starlette endpoint function: the answer to one request.
Serve = Callable[[Request], Awaitable[Response]]


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
    routes: list[BaseRoute] = _routes(PREFIX, ENDPOINTS, dispatcher)
    document = openapi(ENDPOINTS, _version(), PREFIX)

    async def openapi_json(request: Request) -> Response:
        return json_response(document)

    routes.append(Route(PREFIX + "/openapi.json", openapi_json, methods=["GET"], name="openapi"))
    routes.extend(dashboard_routes())
    # The probes also at the root, where orchestrators look for them.
    routes.extend(_routes("", [e for e in ENDPOINTS if e.public], dispatcher))
    if metrics is not None:  # imported only then: prometheus_client is the `metrics` extra
        from wfc.server._metrics import PATH, metrics_endpoint

        routes.append(Route(PATH, metrics_endpoint(dispatcher, metrics), methods=["GET"], name="metrics"))
    app = _App(
        routes=routes,
        middleware=[Middleware(EncodedSlashes)],
        exception_handlers={HTTPException: _http_problem, Exception: _internal},
    )
    # Starlette would answer /api/v1/runs/ with an empty redirect to an
    # absolute URL made from the Host header: an open redirect behind a proxy
    # that passes the header on. A 404 naming the path meant instead.
    app.router.redirect_slashes = False
    return app


class _App(Starlette):
    """Starlette with the security headers outside everything else, so that
    the answers of its own error middleware (a 500) have them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def _routes(prefix: str, endpoints: Iterable[Endpoint], dispatcher: Dispatcher) -> list[BaseRoute]:
    """One route per path, taking each method the table has on it: Starlette
    answers a method no route takes with the methods of the first route of
    the path, so a route per method would leave the others out of ``Allow``."""
    by_path: dict[str, dict[str, Serve]] = {}
    for e in endpoints:
        by_path.setdefault(e.path, {})[e.method] = dispatcher.endpoint(e)
    return [Route(prefix + path, _by_method(served), methods=list(served)) for path, served in by_path.items()]


def _by_method(served: dict[str, Serve]) -> Serve:
    async def serve(request: Request) -> Response:
        # Starlette takes HEAD wherever GET is taken; it is answered as GET.
        return await served["GET" if request.method == "HEAD" else request.method](request)

    return serve


async def _http_problem(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such path, wrong method) as problems."""
    if not isinstance(exc, HTTPException):
        return await _internal(request, exc)
    headers: dict[str, str] = dict(exc.headers or {})
    match exc.status_code:
        case 404:
            problem = _problems.make(404, "no-such-endpoint", _not_found(request))
        case 405:
            allowed = sorted(method.strip() for method in headers.get("Allow", "").split(",") if method.strip())
            headers["Allow"] = ", ".join(allowed)
            detail = (
                f"{request.method} is not allowed on {request.url.path}; it takes {', '.join(allowed)} "
                f"(see {PREFIX}/openapi.json)"
            )
            problem = _problems.make(405, "method-not-allowed", detail)
        case status:
            problem = _problems.make(status, "http", str(exc.detail))
    return _problems.response(problem, headers=headers)


def _not_found(request: Request) -> str:
    """What a 404 says: the path meant, when only a trailing slash is too many."""
    path = request.url.path
    meant = path.rstrip("/")
    if meant and meant != path:
        scope = {**request.scope, "path": request.scope["path"].rstrip("/")}
        if any(route.matches(scope)[0] is not Match.NONE for route in request.app.router.routes):
            return f"no endpoint at {path}; did you mean {meant}? (the same path without the trailing slash)"
    return f"no endpoint at {path}; the API is under {PREFIX}, described at {PREFIX}/openapi.json"


async def _internal(request: Request, exc: Exception) -> Response:
    return _problems.error_response(exc)


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("wfc")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
