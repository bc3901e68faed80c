"""Every route × every role × every method it accepts, against a table of who may.

A route added without an entry here fails `test_every_route_is_in_the_table`; an entry
whose answer differs (a permission forgotten or too wide) fails the matrix.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "nobody", "viewer", "reviewer", "approver")
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
VIEW = {"viewer", "reviewer", "approver"}
RUN = {"reviewer"}
OVERRIDE = {"approver"}

# route name → {method: the roles that get past authorization}
TABLE: dict[str, dict[str, set[str]]] = {
    "execution:masterplan-list": {"GET": VIEW},
    "execution:masterplan-upload": {"GET": RUN, "POST": RUN},
    "execution:concurrency-dashboard": {"GET": VIEW},
    "execution:masterplan-detail": {"GET": VIEW},
    "execution:masterplan-document": {"GET": VIEW},
    "execution:masterplan-dependencies": {"GET": VIEW},
    "execution:masterplan-file": {"GET": VIEW},
    "execution:masterplan-delete": {"POST": RUN},
    "execution:masterplan-start": {"POST": RUN},
    "execution:masterplan-pause": {"POST": RUN},
    "execution:masterplan-resume": {"POST": RUN},
    "execution:masterplan-cancel": {"POST": RUN},
    "budget:masterplan-budget": {"GET": VIEW},
    "budget:override": {"POST": OVERRIDE},
    "budget:new-code": {"POST": OVERRIDE},
    "budget:caps": {"POST": RUN},
    "budget:cap-request-decision": {"POST": OVERRIDE},
    "acceptance:review": {"POST": RUN},
    "api:testing-test-review": {"POST": RUN},
    "acceptance:masterplan-acceptance": {"GET": VIEW},
    "acceptance:generate": {"POST": RUN},
    "acceptance:run": {"POST": RUN},
    "login": {"GET": EVERYONE, "POST": EVERYONE},
    "logout": {"POST": EVERYONE},
    "api:masterplan-start": {"POST": RUN},
    "api:masterplan-pause": {"POST": RUN},
    "api:masterplan-resume": {"POST": RUN},
    "api:masterplan-cancel": {"POST": RUN},
    "api:masterplan-progress": {"GET": VIEW},
    "api:job": {"GET": VIEW},
    "api:concurrency-stats": {"GET": VIEW},
    "api:budget": {"GET": VIEW, "PATCH": RUN},  # raising the hard cap also needs approver
    "api:budget-override": {"POST": OVERRIDE},
    "api:budget-codes": {"POST": OVERRIDE},
    "api:budget-cap-requests": {"GET": VIEW},
    "api:budget-cap-request-decision": {"POST": OVERRIDE},
    "api:testing-generate": {"POST": RUN},
    "api:testing-run": {"POST": RUN},
    "api:testing-run-detail": {"GET": VIEW},
    "api:testing-results": {"GET": VIEW},
    "api:testing-gate-status": {"GET": VIEW},
    "api:caching-stats": {"GET": VIEW},
    "api:caching-series": {"GET": VIEW},
    "api:caching-top-keys": {"GET": VIEW},
    "caching:cache-stats": {"GET": VIEW},
    "api:dependency-graph": {"GET": VIEW},
    "api:precision-score": {"GET": VIEW},
    "api:traceability-trace": {"GET": VIEW},
    "api:traceability-masterplan": {"GET": VIEW},
    "api:traceability-correlation": {"GET": VIEW},
    "api:traceability-correlation-all": {"GET": VIEW},
    "atom-trace": {"GET": VIEW},
    "trace-dashboard": {"GET": VIEW},
    "trace-dashboard-all": {"GET": VIEW},
    "api:precision-history": {"GET": VIEW},
    "api:validation-masterplan": {"GET": VIEW, "POST": RUN},
    "api:schema": {"GET": SIGNED_IN},
    "api:docs": {"GET": SIGNED_IN},
    "api:masterplan-list": {"GET": VIEW, "POST": RUN},
    "api:masterplan-detail": {"GET": VIEW, "DELETE": RUN},
    **{f"api:{name}-list": {"GET": VIEW} for name in
       ("phase", "milestone", "task", "atom", "wave", "requirement")},
    **{f"api:{name}-detail": {"GET": VIEW} for name in
       ("phase", "milestone", "task", "atom", "wave", "requirement")},
    "api:api-root": {"GET": SIGNED_IN},  # the list of endpoints, like the schema: no data
    "healthz": {"GET": EVERYONE},
    "prometheus-django-metrics": {"GET": EVERYONE},  # loopback without a token (see below)
}  # fmt: skip


def routes() -> Iterator[tuple[str, str]]:
    """(name, path) of every route outside the admin, with its parameters filled in."""

    def walk(patterns: list, prefix: str, namespace: str) -> Iterator[tuple[str, str]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace or namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield (
                    (f"{namespace}:" if namespace else "") + pattern.name,
                    prefix + str(pattern.pattern),
                )

    for name, path in walk(get_resolver().url_patterns, "", ""):
        if path.startswith("admin/") or "(?P<format>" in path or "<drf_format_suffix" in path:
            continue
        filled = path.replace("(?P<pk>[^/.]+)", str(uuid.uuid4()))
        filled = filled.replace("(?P<job_id>[A-Za-z0-9_-]{1,128})", str(uuid.uuid4()))
        filled = filled.replace("^", "").replace("$", "")
        for converter in (
            "uuid:masterplan_id",
            "uuid:wave_id",
            "uuid:run_id",
            "uuid:request_id",
            "uuid:test_id",
            "uuid:atom_id",
            "str:atom_id",
        ):
            filled = filled.replace(f"<{converter}>", str(uuid.uuid4()))
        yield name, "/" + filled


def test_every_route_is_in_the_table():
    missing = sorted({name for name, _ in routes()} - set(TABLE))
    assert not missing, f"add these routes to TABLE with who may use them: {missing}"


@pytest.fixture
def clients(client, viewer, reviewer, approver, nobody, api_client_for):
    from django.test import Client

    users = {"nobody": nobody, "viewer": viewer, "reviewer": reviewer, "approver": approver}

    def make(role: str, api: bool):  # type: ignore[no-untyped-def]
        if role == "anonymous":
            return Client()
        if api:
            return api_client_for(users[role])
        signed_in = Client()
        signed_in.force_login(users[role])
        return signed_in

    return make


def test_each_role_gets_past_authorization_exactly_where_the_table_says(clients, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    # Hundreds of requests from one address: the rates are another test's subject.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", dict.fromkeys(
        SimpleRateThrottle.THROTTLE_RATES, "100000/minute"))  # fmt: skip
    paths = dict(routes())
    wrong = []
    for name, methods in TABLE.items():
        path = paths[name]
        api = path.startswith("/api/")
        for method, allowed in methods.items():
            for role in ROLES:
                response = getattr(clients(role, api), method.lower())(path)
                to_login = response.status_code == 302 and "/accounts/login/" in response.get(
                    "Location", ""
                )
                # Logging out ends on the login page for everyone: that is its answer.
                refused = response.status_code in (401, 403) or (to_login and name != "logout")
                if refused == (role in allowed):
                    wrong.append(f"{method} {name} as {role}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
