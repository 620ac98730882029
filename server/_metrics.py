"""``GET /metrics``: the engine's Prometheus metrics, at the server's root.

It is a read like any other: when the server has tokens it needs one (the
read-only token is enough), sent as ``Authorization: Bearer`` the way
Prometheus sends ``authorization`` credentials from a scrape config.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from wfc.runtime.metrics import Metrics
from wfc.server import _problems
from wfc.server._http import Dispatcher

PATH = "/metrics"


def metrics_endpoint(dispatcher: Dispatcher, metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint serving ``metrics`` under ``dispatcher``'s tokens."""

    async def serve(request: Request) -> Response:
        try:
            dispatcher.authorize_read(request)
            body = await metrics.scrape()
        except Exception as exc:
            return _problems.error_response(exc)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return serve
