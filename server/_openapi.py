"""The OpenAPI 3.1 document of ``/api/v1``, generated from the endpoint table
and the msgspec types the server decodes and encodes with
(:func:`msgspec.json.schema_components`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import msgspec

from wfc.server._http import Endpoint
from wfc.server._problems import PROBLEM_JSON
from wfc.server._types import MAX_BODY, Problem

_REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"{(\w+)}")


def openapi(endpoints: Sequence[Endpoint], version: str, prefix: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI document of ``endpoints`` (mounted under ``prefix``)."""
    keyed: dict[tuple[str, ...], Any] = {("problem",): Problem}
    for e in endpoints:
        keyed["response", e.operation] = e.response
        if e.body is not None:
            keyed["body", e.operation] = e.body
        if e.query is not None:
            for field in msgspec.structs.fields(e.query):
                keyed["query", e.operation, field.name] = field.type
    schemas, components = msgspec.json.schema_components(list(keyed.values()), ref_template=_REF)
    found = dict(zip(keyed, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(prefix + e.path, {})[e.method.lower()] = _operation(e, found)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "wfc",
            "version": version,
            "description": (
                "Steer and inspect wfc workflow runs. Errors are application/problem+json (RFC 9457). "
                f"Request bodies are limited to {MAX_BODY} bytes (413 beyond). With a token, send "
                "`Authorization: Bearer <token>`; a read-only token may only GET."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(e: Endpoint, found: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    problem = {"content": {PROBLEM_JSON: {"schema": found["problem",]}}}
    ok = {"content": {e.media_type: {"schema": found["response", e.operation]}}}
    responses: dict[str, Any] = {}
    for status in (e.status, *e.other_statuses):
        body = problem if status >= 400 else ok
        responses[str(status)] = {"description": HTTPStatus(status).phrase, **body}
    responses["4XX"] = {"description": "A problem with the request (RFC 9457)", **problem}
    operation: dict[str, Any] = {
        "operationId": e.operation,
        "summary": e.summary,
        "tags": list(e.tags),
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(e.path)
        ],
        "responses": responses,
    }
    if e.query is not None:
        for field in msgspec.structs.fields(e.query):
            schema = dict(found["query", e.operation, field.name])
            if field.default is not msgspec.NODEFAULT:
                schema["default"] = msgspec.to_builtins(field.default)
            operation["parameters"].append(
                {"name": field.name, "in": "query", "required": field.required, "schema": schema}
            )
    if e.body is not None:
        operation["requestBody"] = {
            "required": False,
            "content": {"application/json": {"schema": found["body", e.operation]}},
        }
    operation["security"] = [] if e.public else [{"bearer": []}]
    return operation
