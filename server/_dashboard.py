"""The web dashboard: static files shipped in the wheel, served at ``/``.

The page is plain HTML, CSS and JavaScript modules with no build step and no
third-party code; everything it shows comes from the same ``/api/v1`` calls
a script would make, with the same token. The files are small enough to be
read into memory once, with their gzip form beside them.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from wfc.server import _problems

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


class _Asset:
    def __init__(self, name: str, body: bytes) -> None:
        self.type = _TYPES[name[name.rindex("."):]]
        self.body = body
        self.gzipped = gzip.compress(body, 9, mtime=0)
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    def response(self, request: Request) -> Response:
        # The security headers (the page's Content-Security-Policy among them) are
        # set for every response by wfc.server._headers.
        headers = {"ETag": self.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(self.gzipped, media_type=self.type, headers=headers)
        return Response(self.body, media_type=self.type, headers=headers)


def assets() -> dict[str, _Asset]:
    """Every file of the dashboard by name."""
    folder = resources.files("wfc.server") / "dashboard"
    return {item.name: _Asset(item.name, item.read_bytes()) for item in folder.iterdir()
            if item.is_file() and "." in item.name and item.name[item.name.rindex("."):] in _TYPES}


def dashboard_routes() -> list[BaseRoute]:
    """``/`` (the page) and ``/ui/{name}`` (its scripts and styles)."""
    files = assets()

    async def page(request: Request) -> Response:
        return files["index.html"].response(request)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        found = files.get(name)
        if found is None:
            detail = f"the dashboard has no file {name!r}; the dashboard is at /"
            return _problems.response(_problems.make(404, "no-such-file", detail))
        return found.response(request)

    return [Route("/", page, methods=["GET"]), Route("/ui/{name}", asset, methods=["GET"])]
