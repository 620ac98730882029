"""The operations surface of wfc: a REST API over an engine.

```python
from wfc.server import create_app

async with Engine.open(url, tasks=[...]) as engine:
    app = create_app(engine, token=secret)   # an ASGI app: mount it, or serve it with uvicorn
```

``wfc server`` runs it from the command line. Needs ``pip install 'wfc[server]'``
(Starlette and uvicorn).
"""

from wfc.server._access import AccessError, check_bind, is_loopback
from wfc.server._app import PREFIX, create_app
from wfc.server._http import MAX_BODY, Endpoint
from wfc.server._endpoints import ENDPOINTS

__all__ = ["ENDPOINTS", "MAX_BODY", "PREFIX", "AccessError", "Endpoint", "check_bind", "create_app", "is_loopback"]
