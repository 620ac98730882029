"""The dashboard's files: small (issue 11: at most 300 KB gzipped together),
our own (no third-party code that would need its license beside it), served
gzipped with a validator and a strict content security policy."""

from __future__ import annotations

import gzip
import re
from importlib import resources

import httpx
from srvlive import LiveServer

LIMIT = 300 * 1024


def files() -> dict[str, bytes]:
    folder = resources.files("wfc.server") / "dashboard"
    return {item.name: item.read_bytes() for item in folder.iterdir() if item.is_file()}


def test_the_dashboard_is_small_and_has_no_vendored_code() -> None:
    found = files()
    assert {"index.html", "app.js", "app.css"} <= set(found)
    zipped = sum(len(gzip.compress(body, 9)) for body in found.values())
    assert zipped <= LIMIT, f"{zipped} bytes gzipped"
    for name, body in found.items():
        text = body.decode()
        # Every script is loaded from this server, by relative module imports.
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{name} loads from elsewhere"


def test_files_are_served_gzipped_with_an_etag_and_a_policy(live: LiveServer) -> None:
    page = httpx.get(live.url + "/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/ui/app.js">' in page.text
    script = httpx.get(live.url + "/ui/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    again = httpx.get(live.url + "/ui/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304
    missing = httpx.get(live.url + "/ui/nope.js")
    assert missing.status_code == 404
    escape = httpx.get(live.url + "/ui/..%2F_app.py")
    assert escape.status_code == 404
