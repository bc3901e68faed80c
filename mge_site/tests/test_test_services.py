"""The suite must really run on the services it claims: PostgreSQL and Redis db 15."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from mge_site.testing import TEST_REDIS_DB, in_ci


def test_redis_is_the_reserved_test_database():
    # Flushing any other database would wipe a developer's running site.
    assert settings.REDIS_URL.endswith(f"/{TEST_REDIS_DB}")


@pytest.mark.skipif(not in_ci(), reason="outside CI a missing PostgreSQL falls back to SQLite")
def test_ci_runs_on_postgresql():
    assert connection.vendor == "postgresql"
