"""Has a masterplan's live region changed since the browser last got it? An ETag that
answers without rendering, so a poll of an unchanged page is a 304.

The version of a plan is read from PostgreSQL's row versions: every INSERT and UPDATE
writes a tuple whose `xmin` is its transaction's id, so the count and the sum of `xmin`
over the rows a page shows change whenever any of them is written — whoever wrote it, by
`save()`, `update()` or raw SQL. No writer has to remember to bump a counter.

Each app says which of its tables the page reads (`watch`) and which live values not in
the database (`watch_value`, e.g. the budget's reservations in Redis); the core knows no
app's tables. The fingerprint is one query, read before the page's data: a write between
the two makes the next poll a full answer again, never a 304 for a page it did not see.

Not watched, knowingly: the users' table (a reviewer renamed shows under the old name
until the plan's next write) and the workspace's files (written by the engine just before
its atom's row; a worker whose lease was lost writes a file whose row update matches
nothing, and the list shows it at the plan's next write).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.db import connection, models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.template import engines
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags, quote_etag

from execution.models import MasterPlan

# Subqueries giving 'count.sum-of-xmin' of one plan's rows of a table (%s: the plan's id).
_watched: list[str] = []
_values: list[Callable[[UUID], str]] = []


def watch(model: type[models.Model], via: str = "masterplan") -> None:
    """The page shows rows of `model`: those whose `via` is the plan, or whose `via` points
    at a row whose `masterplan` is the plan (e.g. `watch(TestResult, via="test")`)."""
    table = _quoted(model._meta.db_table)
    link = _foreign_key(model, via)
    parent: type[models.Model] = link.related_model
    if parent is MasterPlan:
        rows, plan_column = table, _column(model, via)
    else:
        rows = f"{table} JOIN {_quoted(parent._meta.db_table)} ON {_column(model, via)} = " + (
            _column(parent, parent._meta.pk.name)
        )
        plan_column = _column(parent, "masterplan")
    sql = (
        f"(SELECT count(*) || '.' || coalesce(sum({table}.xmin::text::bigint), 0)"
        f" FROM {rows} WHERE {plan_column} = %s)"
    )
    if sql not in _watched:
        _watched.append(sql)


def _foreign_key(model: type[models.Model], name: str) -> models.ForeignKey:
    field = model._meta.get_field(name)
    assert isinstance(field, models.ForeignKey), f"{model.__name__}.{name}: not a foreign key"
    return field


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column, f"{model.__name__}.{name}"
    return f"{_quoted(model._meta.db_table)}.{_quoted(field.column)}"


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def watch_value(read: Callable[[UUID], str]) -> None:
    """The page shows a value of the plan kept outside the database."""
    if read not in _values:
        _values.append(read)


def plan_version(masterplan_id: UUID) -> str | None:
    """The plan's version over every watched table and value; None if there is no such
    plan."""
    plan_table = _quoted(MasterPlan._meta.db_table)
    parts = ", ".join(["xmin::text", *_watched])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT concat_ws(':', {parts}) FROM {plan_table} WHERE id = %s",
            [masterplan_id] * len(_watched) + [masterplan_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return "\n".join([row[0], *(read(masterplan_id) for read in _values)])


def live_etag(request: HttpRequest, version: str) -> str:
    """The ETag of a live region: the plan's version, and what else shapes the answer —
    who asks (their permissions choose the buttons), the query (filter, page), the HTMX
    target and the release (the code, the templates and the settings that render it)."""
    user = request.user
    permissions = sorted(user.get_all_permissions()) if user.is_authenticated else []
    parts = [
        version, str(user.pk), ",".join(permissions), request.get_full_path(),
        request.headers.get("HX-Target", ""), _release_digest(),
    ]  # fmt: skip
    return quote_etag(hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest())


def answer(
    request: HttpRequest, masterplan_id: UUID, render: Callable[[], HttpResponse]
) -> HttpResponse:
    """A live region of the plan: a 304 if the browser holds this version of it, else
    `render()` with its ETag. The version is read before `render` reads the page's data.
    No ETag on SQLite (`make run` without DATABASE_URL): it keeps no row versions, so every
    poll is answered in full."""
    if connection.vendor != "postgresql":
        return render()
    version = plan_version(masterplan_id)
    if version is None:
        raise Http404("No such masterplan.")
    etag = live_etag(request, version)
    # Weakly compared: a proxy that compresses the answer marks its ETag W/.
    held = {tag.removeprefix("W/") for tag in parse_etags(request.headers.get("If-None-Match", ""))}
    response = HttpResponseNotModified() if etag in held else render()
    response["ETag"] = etag
    # private: per user; no-cache: kept, but asked about every time.
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["HX-Request", "HX-Target", "Cookie"])
    return response


_digest: str | None = None


def _release_digest() -> str:
    """Our Python and template sources and the MGE_ settings, read once per process: a
    deploy or a restart with other settings changes every ETag, alike in every web
    process."""
    global _digest
    if _digest is None:
        hasher = hashlib.blake2b(digest_size=8)
        for path in sorted(_source_files()):
            hasher.update(path.read_bytes())
        for name in sorted(name for name in dir(settings) if name.startswith("MGE_")):
            hasher.update(f"{name}={getattr(settings, name)!r}".encode())
        _digest = hasher.hexdigest()
    return _digest


def _source_files() -> Iterable[Path]:
    roots = {Path(root) for engine in engines.all() for root in engine.template_dirs}
    roots |= {Path(app.path) for app in apps.get_app_configs()}
    ours = [
        root for root in roots
        if root.is_relative_to(settings.BASE_DIR) and "site-packages" not in root.parts
    ]  # fmt: skip
    return {
        path
        for root in ours
        for pattern in ("*.py", "*.html")
        for path in root.rglob(pattern)
        if not {"tests", "node_modules"} & set(path.relative_to(root).parts)
    }
