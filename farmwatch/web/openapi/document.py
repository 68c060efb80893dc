"""The OpenAPI 3.1 document of the API, written from the operations table, the route rules
(who may call: the security of each operation) and the application's router (which routes
exist), and the check that every route is described."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from farmwatch.web.openapi.examples import BODY_EXAMPLES, QUERY_EXAMPLES
from farmwatch.web.openapi.operations import NOT_DESCRIBED, OPERATIONS, Operation
from farmwatch.web.openapi.schemas import COMPONENTS, ref
from farmwatch.web.route_rules import RouteKey, Rule, Who

__all__ = ["OpenApiError", "build_document", "check_operations"]

OPENAPI_VERSION = "3.1.0"
_HOLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_REASONS = {
    400: "The request is malformed: a body, a parameter or a value out of range",
    401: "No valid session or API token",
    403: "The caller's role or grants do not allow it (or the CSRF token is missing)",
    404: "No such object, or not one the caller may see",
    409: "It conflicts with the current state",
    413: "The body is larger than 256 KiB",
    429: "Too many requests: wait (Retry-After)",
    501: "The device does not support it",
    502: "The device refused or answered with an error",
    503: "The device is offline",
    504: "The device did not answer in time",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API token issued by an administrator (fwt_…)."},
    "session": {"type": "apiKey", "in": "cookie", "name": "farmwatch_session",
                "description": "The console's session, set by POST /api/login."},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
             "description": "The csrf_token of the login's answer, on every state-changing "
                            "request of a session."},
}  # fmt: skip


class OpenApiError(Exception):
    """A route without a description, or a description of no route."""


def check_operations(
    routes: Collection[RouteKey], operations: Mapping[RouteKey, Operation] = OPERATIONS
) -> None:
    """Raise `OpenApiError` unless every route (but the pages of `NOT_DESCRIBED`) has an
    operation and every operation a route."""
    described = set(routes) - NOT_DESCRIBED
    problems = [f"{key}: no OpenAPI operation" for key in described - operations.keys()]
    problems += [
        f"{key}: an OpenAPI operation for no route" for key in operations.keys() - set(routes)
    ]
    if problems:
        raise OpenApiError("OpenAPI operations: " + "; ".join(sorted(problems)))


def build_document(
    rules: Mapping[RouteKey, Rule], operations: Mapping[RouteKey, Operation] = OPERATIONS
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for key in sorted(operations, key=str):
        paths.setdefault(key.path, {})[key.method.lower()] = _operation(
            key, operations[key], rules[key]
        )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "farmwatch",
            "version": "1",
            "description": "The REST API of a farmwatch platform (GB/T 28181). JSON in and "
            'out; errors are {"error": "..."}. Lists hold only what the caller may see.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": COMPONENTS, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(key: RouteKey, operation: Operation, rule: Rule) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "operationId": _operation_id(key),
        "tags": [operation.tag],
        "summary": operation.summary,
        "security": _security(key.method, rule),
        "responses": _responses(key, operation, rule),
    }
    if operation.description:
        entry["description"] = operation.description
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": operation.path_types.get(name, {"type": "string", "minLength": 1})}
        for name in _HOLE.findall(key.path)
    ]  # fmt: skip
    examples = QUERY_EXAMPLES.get(key, {})
    parameters += [
        {"name": query.name, "in": "query", "required": query.required, "schema": query.schema,
         **({"description": query.description} if query.description else {}),
         **({"example": examples[query.name]} if query.name in examples else {})}
        for query in operation.query
    ]  # fmt: skip
    if parameters:
        entry["parameters"] = parameters
    if operation.request is not None:
        entry["requestBody"] = {
            "required": operation.request_required,
            "content": {
                operation.request_content: {
                    "schema": operation.request,
                    **({"example": BODY_EXAMPLES[key]} if key in BODY_EXAMPLES else {}),
                }
            },
        }
    return entry


def _operation_id(key: RouteKey) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", key.path.replace("{", "by_")).strip("_")
    return f"{key.method.lower()}_{words}"


def _security(method: str, rule: Rule) -> list[dict[str, list[str]]]:
    if rule.who is Who.ANYONE:
        return []
    session: dict[str, list[str]] = (
        {"session": [], "csrf": []} if method in _STATE_CHANGING else {"session": []}
    )
    return [{"bearer": []}, session]


def _responses(key: RouteKey, operation: Operation, rule: Rule) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, schema in operation.ok.items():
        answer: dict[str, Any] = {"description": "Success"}
        if status != 204:
            media = {"schema": schema} if schema is not None else {}
            answer["content"] = {operation.content: media}
        responses[str(status)] = answer
    errors = {400, 404, *operation.errors}
    if rule.who is not Who.ANYONE:
        errors |= {401, 403}
    if operation.request is not None:
        errors.add(413)
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _REASONS.get(status, "Refused"),
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return responses
