"""Reads compiled once (mge_site.prepared) answer what their queryset answers, for any
argument, and the token authentication built on one answers as DRF's does."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from budget.models import CostEntry
from execution.models import Atom, MasterPlan
from execution.runtime.spend import spent_expression
from mge_site.prepared import PreparedValues, _place_of


def _spend_per_status(pk: uuid.UUID):  # type: ignore[no-untyped-def]
    return (
        Atom.objects.filter(masterplan_id=pk)
        .values("status")
        .annotate(n=Count("pk"), tokens=Sum("input_tokens"))
        .order_by("status")
    )


def _ledger_entry(masterplan: MasterPlan, cost: str) -> None:
    CostEntry.objects.create(
        masterplan=masterplan, kind=CostEntry.Kind.SETTLED, model="claude-sonnet-4-6",
        input_tokens=1, output_tokens=1, cost_usd=Decimal(cost),
        reservation_id=uuid.uuid4().hex,
    )  # fmt: skip


@pytest.mark.django_db
def test_rows_are_the_querysets_for_each_argument(imported):
    first, second = imported("slugkit"), imported("typed-event-bus")
    Atom.objects.filter(masterplan=first).update(input_tokens=7)
    first.atoms.filter(pk=first.atoms.first().pk).update(status=Atom.Status.COMPLETED)
    prepared = PreparedValues(_spend_per_status, uuid.UUID)
    for masterplan in (first, second, first):
        assert prepared.rows(masterplan.pk) == list(_spend_per_status(masterplan.pk))
    assert prepared.rows(uuid.uuid4()) == []


@pytest.mark.django_db
def test_the_sql_is_compiled_once(imported):
    masterplan = imported("slugkit")
    built = []

    def build(pk: uuid.UUID):  # type: ignore[no-untyped-def]
        built.append(pk)
        return _spend_per_status(pk)

    prepared = PreparedValues(build, uuid.UUID)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            prepared.rows(masterplan.pk)
    assert len(built) == 1 and built[0] != masterplan.pk  # built with its sentinel
    assert len(queries.captured_queries) == 3


@pytest.mark.django_db
def test_instances_carry_fields_annotations_and_defer_the_rest(imported):
    masterplan = imported("slugkit")
    _ledger_entry(masterplan, "0.125000")
    _ledger_entry(masterplan, "0.000001")
    prepared = PreparedValues(
        lambda pk: MasterPlan.objects.filter(pk=pk).values(
            "id", "name", "started_at", cost_total_usd=spent_expression()
        ),
        uuid.UUID,
    )
    MasterPlan.objects.filter(pk=masterplan.pk).update(started_at=timezone.now())
    [read] = prepared.instances(MasterPlan, masterplan.pk)
    expected = MasterPlan.objects.with_spent().get(pk=masterplan.pk)
    assert (read.pk, read.name, read.started_at) == (
        expected.pk, expected.name, expected.started_at,
    )  # fmt: skip
    assert read.started_at is not None and read.started_at.utcoffset() is not None  # aware
    assert read.cost_total_usd == expected.cost_total_usd == Decimal("0.125001")  # type: ignore[attr-defined]
    assert "description" in read.get_deferred_fields()
    assert prepared.instance(MasterPlan, masterplan.pk) is not None
    assert prepared.instance(MasterPlan, uuid.uuid4()) is None


def test_an_argument_the_query_does_not_take_cannot_be_prepared(db):
    prepared = PreparedValues(lambda pk, name: MasterPlan.objects.filter(pk=pk).values("id"),
                              uuid.UUID, str)  # fmt: skip
    with pytest.raises(ImproperlyConfigured, match=r"argument\(s\) \[1\]"):
        prepared.rows(uuid.uuid4(), "unused")


def test_a_uuid_is_found_in_the_form_the_database_takes_it():
    sentinel = uuid.uuid4()
    assert _place_of(sentinel, ["text", sentinel]) == (1, "same")
    assert _place_of(sentinel.hex, [sentinel]) == (0, "hex")  # SQLite: no UUID type
    assert _place_of("other", [sentinel]) is None


# --- the token authentication -----------------------------------------------------------------

LIST = "/api/v2/masterplans/"


@pytest.mark.django_db
def test_a_token_authenticates_its_user_in_one_query(viewer, nobody):
    token = Token.objects.create(user=viewer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.get(LIST)  # the permission set is kept after the first request
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    assert response.status_code == 200, response.content
    token_reads = [q for q in queries.captured_queries if "authtoken_token" in q["sql"]]
    assert len(token_reads) == 1
    # The user is the token's: one in no group may not list plans.
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=nobody).key}")
    assert other.get(LIST).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("key", "active", "message"),
    [("wrong", True, "Invalid token."), (None, False, "User inactive or deleted.")],
)
def test_a_wrong_key_or_an_inactive_user_is_refused_as_drf_does(viewer, key, active, message):
    token = Token.objects.create(user=viewer)
    viewer.is_active = active
    viewer.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key or token.key}")
    response = client.get(LIST)
    assert response.status_code == 401
    assert message in response.content.decode()
