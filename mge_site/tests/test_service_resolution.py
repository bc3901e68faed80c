"""How the test run finds PostgreSQL and Redis (mge_site.testing)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from mge_site import testing
from mge_site.embedded_redis import redis_answers


@pytest.fixture
def clean_environment(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "MGE_TEST_DATABASE_URL", "MGE_TEST_REDIS_URL"):
        # setenv first so monkeypatch restores the value this test run depends on.
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    return monkeypatch


def test_ci_refuses_to_run_without_postgresql(clean_environment):
    clean_environment.setenv("CI", "true")
    clean_environment.setattr(testing, "_postgres_answers", lambda: False)
    with pytest.raises(testing.ServiceMissing, match="PostgreSQL is not answering"):
        testing.configure_test_services()


def test_ci_refuses_to_run_without_redis(clean_environment):
    clean_environment.setenv("CI", "true")
    clean_environment.setattr(testing, "redis_answers", lambda url: False)
    with pytest.raises(testing.ServiceMissing, match="Redis is not answering"):
        testing.configure_test_services()


def test_outside_ci_missing_servers_are_replaced_and_said(clean_environment):
    clean_environment.setenv("CI", "")
    clean_environment.setattr(testing, "_postgres_answers", lambda: False)
    clean_environment.setattr(testing, "redis_answers", lambda url: False)
    stopped: list[Callable[[], object]] = []
    clean_environment.setattr(testing.atexit, "register", stopped.append)
    notes = testing.configure_test_services()
    try:
        assert "DATABASE_URL" not in os.environ
        assert notes[0].startswith("PostgreSQL not reachable")
        assert notes[1].startswith("Redis not reachable on 127.0.0.1:6379: using the bundled")
        assert os.environ["REDIS_URL"].endswith(f"/{testing.TEST_REDIS_DB}")
        assert redis_answers(os.environ["REDIS_URL"])
    finally:
        for stop in stopped:
            stop()


def test_explicit_test_servers_win(clean_environment):
    clean_environment.setenv("MGE_TEST_DATABASE_URL", "postgres://elsewhere/db")
    clean_environment.setenv("MGE_TEST_REDIS_URL", "redis://elsewhere:6379/3")
    assert testing.configure_test_services() == []
    assert os.environ["DATABASE_URL"] == "postgres://elsewhere/db"
    assert os.environ["REDIS_URL"] == "redis://elsewhere:6379/3"
