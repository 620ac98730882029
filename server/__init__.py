"""The operations surface of wfc: a REST API over an engine.

```python
from wfc.server import create_app

async with Engine.open(url, tasks=[...]) as engine:
    app = create_app(engine, token=secret)   # an ASGI app: mount it, or serve it with uvicorn
```

``wfc server`` runs it from the command line. Serving needs
``pip install 'wfc[server]'`` (Starlette and uvicorn); this package imports
without them, and :func:`create_app` says what to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wfc.server._access import AccessError, check_bind, is_loopback
from wfc.server._types import MAX_BODY, PREFIX

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from wfc.runtime import Engine
    from wfc.runtime.metrics import Metrics

def create_app(
    engine: Engine,
    token: str | None = None,
    *,
    read_token: str | None = None,
    max_body: int = MAX_BODY,
    metrics: Metrics | None = None,
) -> Starlette:
    """The ASGI app serving the REST API of ``engine`` under ``/api/v1``.

    The engine must stay open while the app serves (the app does not open
    or close it). Mount the app in your own service, or run it with any ASGI
    server::

        async with Engine.open(url, tasks=[...]) as engine:
            app = create_app(engine, token=os.environ["WFC_SERVER_TOKEN"])
            await uvicorn.Server(uvicorn.Config(app, port=8080)).serve()

    Args:
        engine: An open engine (serving, or a client with ``serve=False``).
        token: The bearer token every request under ``/api/v1`` needs
            (except the health probes and the OpenAPI document); ``None``:
            no token needed. Serve such an app on loopback only
            (:func:`check_bind`).
        read_token: A second token that may only read (GET).
        max_body: The largest request body in bytes; larger gets 413.
        metrics: Serve these at ``GET /metrics`` (Prometheus's text
            format), under the same tokens as reads: give the
            :class:`~wfc.runtime.metrics.Metrics` the engine was opened
            with as an observer, after ``metrics.track(engine)``.

    Raises:
        AccessError: ``read_token`` without ``token``, or an empty token.
        ImportError: Starlette is not installed (``pip install 'wfc[server]'``).
    """
    try:
        from wfc.server._app import make_app
    except ModuleNotFoundError as exc:
        raise ImportError(f"wfc.server needs {exc.name}, which is not installed: pip install 'wfc[server]'") from exc
    return make_app(engine, token, read_token=read_token, max_body=max_body, metrics=metrics)


__all__ = ["MAX_BODY", "PREFIX", "AccessError", "check_bind", "create_app", "is_loopback"]
