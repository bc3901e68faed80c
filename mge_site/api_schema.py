"""The schema documents every answer an operation can give, errors included.

Views declare their own successes and their particular refusals (a 409 with its reason);
the answers every operation shares are added here so none is forgotten: 400 where there
is a body or a query to get wrong, 401 and 403 (every endpoint needs a role), 404 where a
path names an object or a page may be past the end, 413 for a body over the size limit,
429 from the throttles. All of them have the one error shape (mge_site/api_errors.py).
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every 4xx: a sentence saying what to fix, and the messages per field.",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["detail", "errors"],
}
ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
SHARED = {
    "400": "The request is not valid: `detail` says what to fix, `errors` names the fields.",
    "401": "No credentials: send `Authorization: Token …` or sign in.",
    "403": "The user's role does not allow this.",
    "404": "No such object, or a page past the last one.",
    "413": "The request body is over the size limit.",
    "429": "Too many requests: wait for Retry-After seconds.",
}


def _applies(code: str, path: str, operation: dict[str, Any]) -> bool:
    query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    body = "requestBody" in operation
    if code == "400":
        return query or body
    if code == "404":
        paged = any(p.get("name") == "page" for p in operation.get("parameters", []))
        return "{" in path or paged
    if code == "413":
        return body
    return True


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> Any:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, description in SHARED.items():
                if code not in responses and _applies(code, path, operation):
                    responses[code] = {"description": description}
            for code, response in responses.items():
                if code.startswith("4"):
                    response.setdefault("content", ERROR_REF)
                    if code == "429":
                        response.setdefault("headers", RETRY_AFTER)
    return result
