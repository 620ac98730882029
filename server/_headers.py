"""The security headers of every response, set in one place.

Everything the server answers (the dashboard's page and files, the API's
JSON, its problems, the live stream, ``/metrics``, Starlette's own 404s and
500s) gets:

* ``X-Content-Type-Options: nosniff``: a response is only ever what its
  ``Content-Type`` says; a JSON body holding a run id such as
  ``<script>…`` is never sniffed into HTML or script.
* ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no page of
  another site may frame the dashboard and trick a click on "Cancel".
* ``Referrer-Policy: no-referrer``: where an operator was (the run in the
  URL) is not sent to anything the page loads.
* ``Cross-Origin-Resource-Policy: same-origin``: another site cannot load
  a response of this server into its own page (``<script src>``, ``<img>``).
* A ``Content-Security-Policy``: for the dashboard's HTML, :data:`PAGE_POLICY`
  (its own scripts and styles only, so no inline script or ``on…``
  attribute runs even if markup got in; no ``innerHTML``-style sink takes a
  plain string, as Trusted Types are required); for everything else
  :data:`DATA_POLICY`, which lets nothing load or run at all. A response
  that sets its own policy keeps it, and a 304 sends none: the response the
  browser kept has its own.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The dashboard's page loads only its own files and talks only to its own
#: origin; its scripts build the page with text nodes (no markup from
#: strings), and Trusted Types hold them to it in browsers that have them.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)

#: Any other response (JSON, problems, text) is data: opened in a tab, it
#: may load and run nothing.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

#: Sent with every response.
HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` and a policy to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
                # A 304 carries no body and no type; a browser takes its
                # headers onto the response it keeps, so a data policy sent
                # with it would sandbox the cached page and stop its scripts.
                if "content-security-policy" not in headers and message["status"] != 304:
                    html = headers.get("content-type", "").startswith("text/html")
                    headers["Content-Security-Policy"] = PAGE_POLICY if html else DATA_POLICY
            await send(message)

        await self.app(scope, receive, send_with_headers)
