"""One shape for every API error: `{"detail": "what to fix", "errors": {field: [messages]}}`.

DRF answers a validation error with the serializer's own dict (`{"file": [...]}`,
`{"non_field_errors": [...]}`) and every other error with `{"detail": ...}`; a client then
needs a branch per endpoint. Here every 4xx carries a sentence in `detail` (for a person)
and the per-field messages in `errors` (for a form or a program; `{}` when no field is to
blame). Extra keys an error adds on purpose (a conflict's `allowed_actions`, a document's
numbered `problems`) stay beside them.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD = "non_field_errors"


def _messages(value: Any) -> list[str]:
    """A field's errors as flat strings (nested serializers and lists give 'name: msg')."""
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, inner in value.items() for message in _messages(inner)]
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    return [str(value)]


def _field_errors(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(field): _messages(value) for field, value in data.items()}
    return {NON_FIELD: _messages(data)}


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [
        message if field == NON_FIELD else f"{field}: {message}"
        for field, messages in errors.items()
        for message in messages
    ]
    return "; ".join(parts) or "The request is not valid."


def error_body(data: Any, *, validation: bool) -> dict[str, Any]:
    """`data` as DRF's handler left it, in the one shape."""
    if validation and not (isinstance(data, dict) and "detail" in data):
        errors = _field_errors(data)
        return {"detail": _summary(errors), "errors": errors}
    if isinstance(data, dict):
        body = dict(data)
        body["detail"] = str(body.get("detail", "")) or "The request was refused."
        body.setdefault("errors", {})
        return body
    messages = _messages(data)
    return {"detail": "; ".join(messages), "errors": {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None or response.status_code < 400:
        return response
    response.data = error_body(
        response.data, validation=isinstance(exc, exceptions.ValidationError)
    )
    return response
