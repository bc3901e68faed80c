"""Login lockout (django-axes): a username guessed from one address is locked for a while;
an administrator unlocks it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


def log_in(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("login"), {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_username_from_that_address(client, reviewer, viewer):
    for _ in range(4):
        assert log_in(client, reviewer.username, "wrong").status_code == 200  # the form again
    locked = log_in(client, reviewer.username, "wrong")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "After 5 failed logins for <strong>rita_reviewer</strong>" in page
    assert "0:15:00" in page
    # Locked: even the right password is refused, and no session starts.
    assert log_in(client, reviewer.username, "pw-rita_reviewer").status_code == 429
    assert "_auth_user_id" not in client.session
    # Another account from the same address is not locked.
    assert log_in(client, viewer.username, "pw-vera_viewer").status_code == 302


def test_a_success_before_the_limit_forgets_the_failures(client, reviewer):
    for _ in range(4):
        log_in(client, reviewer.username, "wrong")
    assert log_in(client, reviewer.username, "pw-rita_reviewer").status_code == 302
    client.logout()
    for _ in range(4):
        assert log_in(client, reviewer.username, "wrong").status_code == 200


def test_an_administrator_unlocks_the_account(client, admin_client, reviewer):
    from axes.models import AccessAttempt

    for _ in range(5):
        log_in(client, reviewer.username, "wrong")
    attempt = AccessAttempt.objects.get(username=reviewer.username)
    listed = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listed.status_code == 200 and "rita_reviewer" in listed.content.decode()
    admin_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]),
                      {"post": "yes"})  # fmt: skip
    assert not AccessAttempt.objects.exists()
    assert log_in(client, reviewer.username, "pw-rita_reviewer").status_code == 302


def test_the_command_line_unlocks_too(client, reviewer):
    for _ in range(5):
        log_in(client, reviewer.username, "wrong")
    call_command("axes_reset_username", reviewer.username)
    assert log_in(client, reviewer.username, "pw-rita_reviewer").status_code == 302
