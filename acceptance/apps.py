from __future__ import annotations

from django.apps import AppConfig


class AcceptanceConfig(AppConfig):
    name = "acceptance"
    verbose_name = "Acceptance tests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from acceptance import receivers  # noqa: F401  (connects the import hook)
        from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
        from acceptance.pipeline import ACCEPTANCE_CHECK
        from execution.pages import freshness
        from execution.runtime import checks

        checks.register(ACCEPTANCE_CHECK)
        # The gate's badge on the masterplan's page, the runs on the acceptance page.
        freshness.watch(Requirement)
        freshness.watch(AcceptanceTest)
        freshness.watch(TestRun)
        freshness.watch(TestResult, via="test")
