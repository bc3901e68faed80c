"""Query parameters read through a serializer: a bad value is a 400 that names it.

The same serializer documents the parameters (`extend_schema(parameters=[TheQuery])`), so
what the schema promises and what the view accepts cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.request import Request


def refuse_empty(params: Mapping[str, str], names: Iterable[str]) -> None:
    """`?name=` with no value: DRF and django-filter read it as "not given", which hid a
    client's bug (an unset variable) behind an unfiltered answer."""
    empty = {
        name: ["give a value, or leave the parameter out"]
        for name in names
        if params.get(name) == ""
    }
    if empty:
        raise ValidationError(empty)


def read_query(request: Request, query: type[serializers.Serializer]) -> dict[str, Any]:
    refuse_empty(request.query_params, query().fields)
    incoming = query(data=request.query_params)
    incoming.is_valid(raise_exception=True)
    return dict(incoming.validated_data)


class _QueryBoolean(serializers.BooleanField):
    # DRF reads a QueryDict like a form: a missing checkbox is False and an empty value is
    # "not given". In a query, absent is absent, and '' or 'null' is no answer: a 400.
    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        return dictionary.get(str(self.field_name), empty)


def optional_boolean(help_text: str) -> serializers.BooleanField:
    """true/false (1/0, yes/no); absent means no filter, anything else is a 400."""
    return _QueryBoolean(
        required=False,
        help_text=help_text,
        error_messages={"invalid": "must be true or false (or 1/0, yes/no)"},
    )


def one_of(choices: list[tuple[str, str]], help_text: str = "") -> serializers.ChoiceField:
    """A choice whose 400 lists what would have been accepted."""
    allowed = ", ".join(value for value, _label in choices)
    return serializers.ChoiceField(
        choices,
        required=False,
        help_text=help_text,
        error_messages={"invalid_choice": f"{{input!r}} is not one of {allowed}"},
    )
