from __future__ import annotations

from django.apps import AppConfig


class ExecutionConfig(AppConfig):
    name = "execution"
    verbose_name = "Execution"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from execution.models import Atom, Wave
        from execution.pages import freshness
        from execution.runtime import checks
        from execution.runtime.concurrency.metrics import ConcurrencyCollector
        from execution.runtime.dependency_check import DEPENDENCY_CHECK
        from mge_site.auth_backend import connect_invalidation
        from mge_site.prometheus import register_once

        register_once(ConcurrencyCollector)
        connect_invalidation()  # the roles are this app's (execution/roles.py)
        checks.register(DEPENDENCY_CHECK)
        freshness.watch(Atom)
        freshness.watch(Wave)
