"""Read queries compiled once, for the answers clients poll.

Django builds a queryset and compiles it to SQL on every call: for a one-row read by key
that is 0.3 ms of CPU against 0.07 ms for running the SQL (benchmarks/README.md), and an
API answer makes three or four such reads. The SQL of a polled read never changes, only
its values: `PreparedValues` compiles the queryset once per database, with a sentinel
for each argument, and then runs that SQL with each call's values.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def _sentinel(kind: type) -> uuid.UUID | str:
    return uuid.uuid4() if kind is uuid.UUID else f"prepared-{uuid.uuid4().hex}"


def _place_of(value: object, sentinels: list[uuid.UUID | str]) -> tuple[int, str] | None:
    """Which argument a compiled parameter is, and in which form the database takes it
    (a UUID as itself, or as its hex where the database has no UUID type)."""
    for index, sentinel in enumerate(sentinels):
        if value == sentinel:
            return index, "same"
        if isinstance(sentinel, uuid.UUID) and value == sentinel.hex:
            return index, "hex"
    return None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: list[Any]
    places: list[tuple[int, int, str]]
    """(position among the parameters, argument index, form) of each argument's use."""
    names: list[str]
    converters: dict[int, tuple[list[Any], Any]]


class PreparedValues:
    """`build(*arguments)` returns a `values()` queryset; `rows(*arguments)` runs its SQL,
    compiled once, and returns the dicts the queryset would, converted as it would.

    `kinds` are the arguments' types (`uuid.UUID` or `str`); a call must pass values of
    those types (a UUID as `uuid.UUID`)."""

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], *kinds: type) -> None:
        self.build = build
        self.kinds = kinds
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def rows(
        self, *arguments: uuid.UUID | str, using: str = DEFAULT_DB_ALIAS
    ) -> list[dict[str, Any]]:
        compiled = self._compiled.get(using) or self._compile(using)
        params = list(compiled.params)
        for position, index, form in compiled.places:
            value = arguments[index]
            params[position] = (
                value.hex if form == "hex" and isinstance(value, uuid.UUID) else value
            )
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        result = []
        for row in rows:
            values = list(row)
            for position, (functions, expression) in compiled.converters.items():
                for convert in functions:
                    values[position] = convert(values[position], expression, connection)
            result.append(dict(zip(compiled.names, values, strict=True)))
        return result

    def instances(
        self, model: type[M], *arguments: uuid.UUID | str, using: str = DEFAULT_DB_ALIAS
    ) -> list[M]:
        """The rows as `model` instances, as the queryset without `values()` would give
        them: the model's fields from the row (the others deferred), each other column (an
        annotation) an attribute."""
        attnames = {field.attname for field in model._meta.concrete_fields}
        instances = []
        for row in self.rows(*arguments, using=using):
            fields = [name for name in row if name in attnames]
            instance = model.from_db(using, fields, [row[name] for name in fields])
            for name in row.keys() - attnames:
                setattr(instance, name, row[name])
            instances.append(instance)
        return instances

    def instance(
        self, model: type[M], *arguments: uuid.UUID | str, using: str = DEFAULT_DB_ALIAS
    ) -> M | None:
        """The first of `instances`, or None: a read by key."""
        return next(iter(self.instances(model, *arguments, using=using)), None)

    def _compile(self, using: str) -> _Compiled:
        with self._lock:
            if using in self._compiled:
                return self._compiled[using]
            sentinels = [_sentinel(kind) for kind in self.kinds]
            queryset = self.build(*sentinels)
            query = queryset.query
            compiler = query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            places = []
            for position, value in enumerate(params):
                place = _place_of(value, sentinels)
                if place is not None:
                    places.append((position, *place))
            missing = set(range(len(sentinels))) - {index for _, index, _ in places}
            if missing:
                raise ImproperlyConfigured(
                    f"{self.build.__qualname__} does not use its argument(s) {sorted(missing)} "
                    "as query parameters: it cannot be prepared"
                )
            selected = [column for column, _, _ in compiler.select[: compiler.col_count]]
            self._compiled[using] = compiled = _Compiled(
                sql=sql,
                params=list(params),
                places=places,
                # What a values() queryset names its columns (ValuesIterable).
                names=list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select],
                converters=compiler.get_converters(selected),
            )
            return compiled
