"""The API's filter sets: a foreign key filters by its id.

django-filter's default for a foreign key is a choice among the rows that exist, so
`?masterplan=<a well-formed id of no plan>` was a 400 "Select a valid choice" — a valid
request (the schema says: a UUID) refused. Filtering by the id answers an empty page.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.views import APIView

from mge_site.query import refuse_empty


class IdFilterSet(django_filters.FilterSet):
    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.ForeignKey: {"filter_class": django_filters.UUIDFilter},
        models.OneToOneField: {"filter_class": django_filters.UUIDFilter},
    }


class IdFilterBackend(DjangoFilterBackend):
    filterset_base = IdFilterSet

    def filter_queryset(self, request: HttpRequest, queryset: QuerySet[Any], view: APIView) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            refuse_empty(request.GET, filterset_class.base_filters)
        return super().filter_queryset(request, queryset, view)
