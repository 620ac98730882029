"""``wfc worker --metrics-port``: the worker's Prometheus metrics on a port
of its own, served by ``prometheus_client``'s WSGI app in a thread (the
gauges read from the database go through the engine's event loop).

The same rule as ``wfc server``: listening on anything but loopback needs a
token (``--metrics-token``), which every scrape then sends as
``Authorization: Bearer``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from wfc.cli.errors import CliError
from wfc.runtime.metrics import Metrics
from wfc.server import is_loopback
from wfc.server._access import Tokens

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: Paths the metrics answer on (Prometheus asks for /metrics by default).
PATHS = ("/metrics", "/")


def check_metrics_bind(host: str, token: str | None) -> None:
    """Refuse to serve the metrics beyond this machine without a token."""
    if token is not None and not token.strip():
        raise CliError("--metrics-token is empty; give a long random secret, e.g. from `openssl rand -hex 32`")
    if token is None and not is_loopback(host):
        raise CliError(
            f"refusing to serve metrics on {host} without a token: anyone who can reach it could read them. "
            f"Give --metrics-token (or $WFC_METRICS_TOKEN) with a long random secret and put it in the scrape "
            f"config's `authorization`, or listen on 127.0.0.1 (the default)"
        )


class _Quiet(WSGIRequestHandler):
    """No line per scrape on stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class _Threaded(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def guarded(app: WsgiApp, tokens: Tokens) -> WsgiApp:
    """``app`` answering GET on :data:`PATHS` only, with a token when ``tokens`` need one."""

    def serve(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") not in PATHS:
            return _plain(start_response, "404 Not Found", "the metrics are at /metrics\n")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", "the metrics answer GET\n", [("Allow", "GET")])
        if tokens.required and tokens.grant(environ.get("HTTP_AUTHORIZATION")) is None:
            return _plain(
                start_response,
                "401 Unauthorized",
                "these metrics need a token: send `Authorization: Bearer <token>` with the worker's --metrics-token\n",
                [("WWW-Authenticate", "Bearer")],
            )
        return app(environ, start_response)

    return serve


def _plain(
    start_response: StartResponse, status: str, text: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])])
    return [text.encode()]


class MetricsServer:
    """The metrics served on ``host:port`` in a thread, until :meth:`close`."""

    def __init__(self, metrics: Metrics, host: str, port: int, token: str | None) -> None:
        check_metrics_bind(host, token)
        app = guarded(make_wsgi_app(metrics.registry), Tokens(token))
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        except socket.gaierror as exc:
            raise CliError(
                f"cannot serve metrics on {host}: {exc.strerror}; give an address such as 127.0.0.1"
            ) from None
        server_class = type("MetricsHttpServer", (_Threaded,), {"address_family": family})
        try:
            self._httpd: WSGIServer = make_server(host, port, app, server_class=server_class, handler_class=_Quiet)
        except OSError as exc:
            raise CliError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror}; is something else on that port? "
                f"Give another with --metrics-port"
            ) from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="wfc metrics", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where the metrics are, e.g. ``http://127.0.0.1:9464/metrics``."""
        host, port = self._httpd.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}/metrics"

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
