"""A user's permission set is kept in Redis between requests, and every change that can
alter it is seen by the next request."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mge_site import auth_backend
from mge_site.auth_backend import INDEX_KEY, KEY_PREFIX
from mge_site.redis_connection import get_redis

LIST = "/api/v2/masterplans/"


def _kept(user) -> str:  # type: ignore[no-untyped-def]
    raw = get_redis().get(f"{KEY_PREFIX}{user.pk}")
    assert isinstance(raw, bytes), raw
    return raw.decode()


def _queries(client) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        status = client.get(LIST).status_code
    return status, len(queries.captured_queries)


@pytest.mark.django_db
def test_the_second_request_reads_no_permissions(viewer, api_client_for):
    client = api_client_for(viewer)
    first_status, first = _queries(client)
    second_status, second = _queries(client)
    assert first_status == second_status == 200
    assert second == first - 2  # the user's own and its groups' permissions
    assert "execution.view_masterplan" in _kept(viewer)


@pytest.mark.django_db
def test_leaving_a_group_applies_to_the_next_request(viewer, api_client_for):
    client = api_client_for(viewer)
    assert client.get(LIST).status_code == 200
    viewer.groups.remove(Group.objects.get(name="viewer"))
    assert client.get(LIST).status_code == 403
    Group.objects.get(name="viewer").user_set.add(viewer)  # from the group's side
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_a_groups_permission_taken_away_applies_to_all_its_members(
    viewer, reviewer, api_client_for
):
    clients = [api_client_for(viewer), api_client_for(reviewer)]
    assert [client.get(LIST).status_code for client in clients] == [200, 200]
    view = Permission.objects.get(codename="view_masterplan")
    for name in ("viewer", "reviewer"):
        Group.objects.get(name=name).permissions.remove(view)
    assert [client.get(LIST).status_code for client in clients] == [403, 403]
    for user in (viewer, reviewer):  # kept again, without it
        assert "view_masterplan" not in _kept(user)
    assert get_redis().smembers(INDEX_KEY) == {str(viewer.pk).encode(), str(reviewer.pk).encode()}


@pytest.mark.django_db
def test_a_user_made_superuser_or_given_a_permission_gets_it_at_once(nobody, api_client_for):
    client = api_client_for(nobody)
    assert client.get(LIST).status_code == 403
    nobody.user_permissions.add(Permission.objects.get(codename="view_masterplan"))
    assert client.get(LIST).status_code == 200
    nobody.user_permissions.clear()
    assert client.get(LIST).status_code == 403
    nobody.is_superuser = True
    nobody.save()
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_a_corrupt_entry_is_read_again_and_rewritten(viewer, api_client_for):
    client = api_client_for(viewer)
    get_redis().set(f"{KEY_PREFIX}{viewer.pk}", b'["execution.view_mast')
    assert client.get(LIST).status_code == 200
    assert _kept(viewer).endswith('"]')


@pytest.mark.django_db
def test_without_redis_the_database_answers(viewer, api_client_for, settings):
    client = api_client_for(viewer)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert client.get(LIST).status_code == 200


@pytest.mark.django_db
def test_switched_off_nothing_is_kept(viewer, api_client_for, settings):
    settings.MGE_PERMISSIONS_CACHE_SECONDS = 0
    client = api_client_for(viewer)
    assert _queries(client)[1] == _queries(client)[1]
    assert not get_redis().exists(f"{KEY_PREFIX}{viewer.pk}")


@pytest.mark.django_db
def test_a_set_read_before_a_change_is_not_kept_after_its_drop(viewer):
    # A request missed and read the rows; a change committed and dropped the kept sets
    # before the request wrote what it read: what it read is not kept.
    kept, generation = auth_backend._kept(viewer.pk)
    assert kept is None and generation is not None
    auth_backend.forget([viewer.pk])
    auth_backend._keep(viewer.pk, {"execution.view_masterplan"}, generation)
    assert not get_redis().exists(f"{KEY_PREFIX}{viewer.pk}")
    # Read after the change, it is.
    kept, generation = auth_backend._kept(viewer.pk)
    assert generation is not None
    auth_backend._keep(viewer.pk, {"execution.view_masterplan"}, generation)
    assert _kept(viewer) == '["execution.view_masterplan"]'
