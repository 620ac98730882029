"""Ids with ``/`` in them, routed to the right endpoint.

A run id is a caller's string and may hold ``/`` (``order/7``); the
dashboard and any careful client send it percent-encoded, one path segment:
``/api/v1/runs/order%2F7``. The ASGI server decodes the path before the
router sees it, so Starlette would route ``/api/v1/runs/order/7`` (no such
endpoint), and ``/api/v1/runs/x%2Fhistory`` to the journal of run ``x``:
another run than the one asked for.

:class:`EncodedSlashes` routes on the path as it was sent instead: when the
raw path has an encoded slash, each segment is decoded on its own and
re-encoded so that only ``%`` and ``/`` stay escaped (``order%2F7``), and
:func:`path_params` undoes that in what the endpoints get. Paths without an
encoded slash (nearly all) are left exactly as the server decoded them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

#: Set in the scope when the path's segments were kept encoded.
_KEPT = "wfc.segments_kept_encoded"


def _segment(raw: str) -> str:
    """One raw segment decoded, then with ``%`` and ``/`` escaped again."""
    return unquote(raw, errors="strict").replace("%", "%25").replace("/", "%2F")


class EncodedSlashes:
    """ASGI middleware: route a request on its raw path's segments."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = _keep_segments(scope)
        await self.app(scope, receive, send)


def _keep_segments(scope: Scope) -> Scope:
    raw: bytes | None = scope.get("raw_path")
    if not raw or b"%2f" not in raw.lower():
        return scope
    try:
        text = raw.decode("ascii")
        decoded = unquote(text, errors="strict")
        kept = "/".join(_segment(part) for part in text.split("/"))
    except UnicodeError:
        return scope  # not a path the server decoded as UTF-8: leave it as it is
    path: str = scope["path"]
    # A prefix the server put before the raw path (its root path) stays.
    if not path.endswith(decoded):
        return scope
    return {**scope, "path": path[: len(path) - len(decoded)] + kept, _KEPT: True}


def path_params(request: Request) -> dict[str, Any]:
    """The request's path parameters, each as the client meant it."""
    params = dict(request.path_params)
    if request.scope.get(_KEPT):
        return {name: unquote(value) if isinstance(value, str) else value for name, value in params.items()}
    return params
