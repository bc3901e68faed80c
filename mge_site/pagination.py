"""Page-number pagination whose parameters are checked: `?page=` and `?page_size=` take a
positive whole number (page_size at most MAX_PAGE_SIZE); anything else is a 400 naming it.
DRF's own paginator read `page=` as page 1 and ignored `page_size=null`, so a typo went
unnoticed. A page past the last one stays a 404 (there is nothing at that address).
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

MAX_PAGE_SIZE = 500


def _positive(request: Request, name: str, maximum: int | None = None) -> None:
    if name not in request.query_params:
        return
    value = request.query_params[name]
    limit = f" up to {maximum}" if maximum else ""
    if (
        not (value.isascii() and value.isdigit())
        or int(value) < 1
        or (maximum and int(value) > maximum)
    ):
        raise ValidationError({name: [f"must be a whole number from 1{limit} (got {value!r})"]})


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> list[Any] | None:
        _positive(request, self.page_query_param)
        _positive(request, "page_size", MAX_PAGE_SIZE)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == "page_size":
                parameter["schema"]["maximum"] = MAX_PAGE_SIZE
        return parameters
