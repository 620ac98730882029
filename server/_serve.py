"""What ``wfc server`` does once its options are checked: open the engine,
listen, and serve the API with uvicorn until SIGINT, SIGTERM or SIGHUP."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import time
from typing import Any, Final

import uvicorn

from wfc.cli import output
from wfc.cli.engine_access import require_database, run_async
from wfc.cli.errors import CliError
from wfc.cli.log_options import LogFormat
from wfc.cli.observing import json_logs, setup_logs
from wfc.runtime import Engine
from wfc.runtime._urls import redact_url
from wfc.runtime.metrics import Metrics
from wfc.runtime.open_files import free_descriptors, out_of_files_message
from wfc.runtime.tracing import Tracing
from wfc.server import create_app
from wfc.server._live import Live, live_of
from wfc.server._types import PREFIX


def serve(
    url: str,
    task_targets: list[str],
    *,
    host: str,
    port: int,
    token: str | None,
    read_token: str | None,
    tracing: Tracing | None = None,
    log_format: LogFormat = LogFormat.TEXT,
    retention: float | None = None,
) -> None:
    """Serve the API (and ``/metrics``) of the database at ``url`` on
    ``host:port``; with tasks, purge runs finished more than ``retention``
    seconds ago."""
    from wfc.cli.worker_serve import load_tasks

    tasks = load_tasks(task_targets) if task_targets else []
    if not tasks:
        require_database(url)  # a client must not create an empty database because of a typo
    listener = _listen(host, port)
    metrics = Metrics()
    observers = [*setup_logs(log_format), metrics]
    _warn_of_few_files(json_logs(log_format))

    serving = False

    async def main() -> None:
        nonlocal serving
        asyncio.get_running_loop().set_exception_handler(_OutOfFiles(json_logs(log_format)).handle)
        opened = Engine.open(
            url, tasks, serve=bool(tasks), tracing=tracing, observers=observers, retention=retention
        )
        async with opened as engine:
            metrics.track(engine)
            app = create_app(engine, token, read_token=read_token, metrics=metrics)
            # In JSON mode uvicorn installs no handlers of its own: its
            # records go to the JSON handler like every other.
            logs = None if json_logs(log_format) else uvicorn.config.LOGGING_CONFIG
            config = uvicorn.Config(
                app,
                log_level="info",
                lifespan="off",
                server_header=False,
                log_config=logs,
                timeout_graceful_shutdown=GRACE,
            )
            server = _Server(config, live_of(engine))
            bound = listener.getsockname()
            where = f"http://{_host_text(bound[0])}:{bound[1]}{PREFIX}"
            role = (
                f"running the tasks {', '.join(sorted(engine.task_names))}"
                if tasks
                else "a client of the database (workers run the tasks)"
            )
            access = "a token is needed" if token else "no token (loopback only)"
            banner = f"wfc server: {redact_url(url)} at {where} (metrics at /metrics); {role}; {access}"
            if json_logs(log_format):
                logging.getLogger("wfc.server").info("%s", banner)
            else:
                output.stdout().print(banner, soft_wrap=True)
            serving = True
            await server.serve(sockets=[listener])

    def stop(signum: int, frame: object) -> None:
        # uvicorn takes SIGINT and SIGTERM while it serves (it stops taking
        # requests, finishes those in flight, then the engine closes), and
        # raises the signal again once done: that is a clean exit 0. Before
        # it serves (opening the database, waiting for its lock), a signal
        # stops the server as Ctrl-C stops any command. (SIGHUP goes to
        # whatever takes SIGINT: see wfc.cli._terminate_as_interrupt.)
        if not serving:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_async(main)
    finally:
        listener.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_log = logging.getLogger("wfc.server")

#: Seconds a shutdown waits for the requests in flight before it cancels
#: them: a client that never finishes sending its body must not keep the
#: server (and its engine) from closing.
GRACE: Final = 10


class _Server(uvicorn.Server):
    """uvicorn's server, which ends the dashboard's live streams when it
    shuts down: it waits for every response to end, and an open page's
    stream never does (a keep-alive every 15 s held ``docker stop`` until
    its kill)."""

    def __init__(self, config: uvicorn.Config, live: Live) -> None:
        super().__init__(config)
        self._live = live

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._live.close()
        await super().shutdown(sockets)

#: Files the server should be free to open when it starts: one per
#: connection at once, beyond what the engine and the database take. Below
#: this it is worth a warning; 256 (macOS's default limit) is not.
_WANTED_FILES: Final = 64


def _warn_of_few_files(as_log: bool) -> None:
    """Warn, at start-up, of a limit of open files (``ulimit -n``) that
    leaves room for few connections at once: the server still serves, and
    the others wait to be accepted (see :class:`_OutOfFiles`)."""
    free = free_descriptors()
    if free is not None and free < _WANTED_FILES:
        told = (
            f"wfc server may open only {free} more files, and each connection takes one, so it can hold at "
            f"most {free} connections at once (the others wait)"
        )
        _warning(out_of_files_message(told), as_log)


def _warning(text: str, as_log: bool) -> None:
    """Warn on stderr, or in the JSON log (``--log-format json``)."""
    if as_log:
        _log.warning("%s", text)
    else:
        output.print_warning(text)


class _OutOfFiles:
    """The event loop's error handler while the server serves: a connection
    that cannot be accepted because no more files may be opened is said in
    one line, at most once a minute, where asyncio logged a traceback for
    each try, many a second, until a connection closed. asyncio accepts
    again by itself a second later; a try that comes after the server closed
    its socket, at shutdown, is no error (asyncio logged a traceback for each
    one). Any other error goes to asyncio's own handler."""

    EVERY: Final = 60.0

    def __init__(self, as_log: bool) -> None:
        self._as_log = as_log
        self._said = -self.EVERY

    def handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, ValueError) and _accepting_again(context):
            return  # on the socket the server has closed since (its descriptor is -1)
        accepting = "socket" in context  # asyncio's accept names its listening socket; nothing else does
        if not (accepting and isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE)):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._said >= self.EVERY:
            self._said = now
            told = f"wfc server cannot accept a connection now ({error.strerror}); it waits until others close"
            _warning(out_of_files_message(told, system=error.errno == errno.ENFILE), self._as_log)


def _accepting_again(context: dict[str, Any]) -> bool:
    """Whether the failed callback is asyncio's accept starting again (its
    handle's callback; no public name says so: anything else goes to
    asyncio's own handler)."""
    callback = getattr(context.get("handle"), "_callback", None)
    return getattr(callback, "__name__", "") == "_start_serving"


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, so that a busy port is a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on {host}: {exc.strerror}; give an address such as 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}; {_listen_advice(exc, port)}") from None
    sock.set_inheritable(True)
    return sock


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listen_advice(error: OSError, port: int) -> str:
    """What to do when binding failed, by why."""
    if error.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's; give one it has (--host 127.0.0.1, or 0.0.0.0 for all)"
    if error.errno == errno.EACCES and port < 1024:
        return "ports under 1024 need privileges; give one above it with --port"
    return "is another server on that port? Give another with --port"
