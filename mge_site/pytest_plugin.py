"""Points the test run at its PostgreSQL and Redis before pytest-django reads settings.

Loaded with `-p mge_site.pytest_plugin` (pyproject.toml). A conftest is too late:
pytest-django configures Django while the initial conftests load, and settings read
DATABASE_URL and REDIS_URL once.
"""

from __future__ import annotations

import os

import pytest

from mge_site.testing import ServiceMissing, configure_test_services

_notes = pytest.StashKey[list[str]]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    try:
        early_config.stash[_notes] = configure_test_services()
    except ServiceMissing as missing:
        raise pytest.UsageError(str(missing)) from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    services = (
        f"services: DATABASE_URL={os.environ.get('DATABASE_URL', '(SQLite)')} "
        f"REDIS_URL={os.environ['REDIS_URL']}"
    )
    return [services, *config.stash.get(_notes, [])]
