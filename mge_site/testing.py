"""Which PostgreSQL and Redis the test suite talks to; called by the root conftest.

Tests run against PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (database
15, reserved for tests and flushed by them). Under CI=true a missing server fails the run
with a message. Elsewhere a missing Redis is replaced by the bundled redis-server and a
missing PostgreSQL by SQLite, each said in one line; PostgreSQL-only tests then skip.
"""

from __future__ import annotations

import atexit
import os

import psycopg2

from mge_site.embedded_redis import EmbeddedRedis, redis_answers

TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/mge"
TEST_REDIS_DB = 15
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


class ServiceMissing(RuntimeError):
    pass


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_answers() -> bool:
    try:
        psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=2
        ).close()
    except psycopg2.OperationalError:
        return False
    return True


def configure_test_services() -> list[str]:
    """Set DATABASE_URL and REDIS_URL for this test run; returns lines to report."""
    notes = []
    if os.environ.get("MGE_TEST_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["MGE_TEST_DATABASE_URL"]
    elif _postgres_answers():
        os.environ["DATABASE_URL"] = TEST_DATABASE_URL
    elif in_ci():
        raise ServiceMissing(
            "PostgreSQL is not answering on 127.0.0.1:5432 (user postgres); CI needs it. Start "
            "it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    else:
        os.environ.pop("DATABASE_URL", None)
        notes.append("PostgreSQL not reachable on 127.0.0.1:5432: testing on SQLite instead")

    if os.environ.get("MGE_TEST_REDIS_URL"):
        os.environ["REDIS_URL"] = os.environ["MGE_TEST_REDIS_URL"]
    elif redis_answers(TEST_REDIS_URL):
        os.environ["REDIS_URL"] = TEST_REDIS_URL
    elif in_ci():
        raise ServiceMissing(
            "Redis is not answering on 127.0.0.1:6379; CI needs it. Start it with: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
        )
    else:
        embedded = EmbeddedRedis().start()
        atexit.register(embedded.stop)
        os.environ["REDIS_URL"] = embedded.url(TEST_REDIS_DB)
        notes.append(f"Redis not reachable on 127.0.0.1:6379: using the bundled redis-server "
                     f"on port {embedded.port}")  # fmt: skip
    return notes
