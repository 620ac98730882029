"""The security headers of every response of ``wfc server``: the page's
Content-Security-Policy forbids inline script and requires Trusted Types,
and every answer (page, its files, the API's JSON and problems, Starlette's
own 404 and 405, the live stream, a 304) is ``nosniff``, may not be framed by
another site and sends no referrer."""

from __future__ import annotations

import httpx
import pytest
from srvlive import LiveServer

#: What every response carries, whatever it is.
EVERYWHERE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: sources}."""
    found: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            assert words[0] not in found, f"{words[0]} given twice in {policy!r}"
            found[words[0]] = words[1:]
    return found


def check_everywhere(response: httpx.Response) -> dict[str, list[str]]:
    for name, value in EVERYWHERE.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers)
        assert len(response.headers.get_list(name)) == 1, (response.request.url, name, "sent twice")
    policies = response.headers.get_list("content-security-policy")
    assert len(policies) == 1, (response.request.url, policies)
    policy = directives(policies[0])
    assert policy["frame-ancestors"] == ["'none'"], response.request.url
    assert policy["default-src"] == ["'none'"], response.request.url
    assert policy["base-uri"] == ["'none'"], response.request.url
    return policy


def test_the_page_forbids_inline_script_and_requires_trusted_types(live: LiveServer) -> None:
    page = httpx.get(live.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = check_everywhere(page)
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert policy["style-src"] == ["'self'"]  # no style attribute from data takes effect
    assert policy["connect-src"] == ["'self'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["require-trusted-types-for"] == ["'script'"]  # innerHTML = "<img …>" throws
    assert policy["trusted-types"] == ["'none'"]
    for sources in policy.values():
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"} & set(sources), policy


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ui/app.js", 200),
        ("GET", "/ui/app.css", 200),
        ("GET", "/ui/nope.js", 404),
        ("GET", "/api/v1/runs", 200),
        ("GET", "/api/v1/runs/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),
        ("GET", "/api/v1/openapi.json", 200),
        ("GET", "/healthz", 200),
        ("GET", "/no/such/page", 404),
        ("DELETE", "/api/v1/runs", 405),
        ("POST", "/api/v1/runs", 422),
    ],
)
def test_every_answer_has_the_headers(live: LiveServer, method: str, path: str, status: int) -> None:
    with live.client() as client:
        response = client.request(method, path)
    assert response.status_code == status, response.text
    policy = check_everywhere(response)
    if not response.headers["content-type"].startswith("text/html"):
        # Data, not a page: opened in a tab, it may load or run nothing.
        assert "script-src" not in policy and "sandbox" in policy


def test_a_not_modified_answer_and_the_live_stream_have_them_too(live: LiveServer) -> None:
    script = httpx.get(live.url + "/ui/app.js")
    again = httpx.get(live.url + "/ui/app.js", headers={"If-None-Match": script.headers["etag"]})
    page = httpx.get(live.url + "/")
    revalidated = httpx.get(live.url + "/", headers={"If-None-Match": page.headers["etag"]})
    for not_modified in (again, revalidated):
        assert not_modified.status_code == 304
        for name, value in EVERYWHERE.items():
            assert not_modified.headers.get(name) == value, (not_modified.request.url, name)
        # No policy of its own: a browser puts a 304's headers on the response
        # it kept, and a data policy's sandbox stopped the page's scripts on
        # every reload.
        assert "content-security-policy" not in not_modified.headers
    with httpx.stream("GET", live.url + "/api/v1/live", headers={"Accept": "text/event-stream"}, timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        check_everywhere(stream)
