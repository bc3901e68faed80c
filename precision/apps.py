from __future__ import annotations

from django.apps import AppConfig


class PrecisionConfig(AppConfig):
    name = "precision"
    verbose_name = "Precision"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from execution.llm import validation
        from execution.pages import freshness
        from execution.runtime import checks
        from mge_site.prometheus import register_once
        from precision import receivers  # noqa: F401  (re-scores after acceptance runs)
        from precision.atomic import retry_problem
        from precision.metrics import PrecisionCollector
        from precision.models import PrecisionSnapshot, ValidationCheck, ValidationRun
        from precision.pipeline import PRECISION_CHECK

        checks.register(PRECISION_CHECK)
        validation.register_code_check(retry_problem)
        # The precision badge and panel on the masterplan's page.
        freshness.watch(PrecisionSnapshot)
        freshness.watch(ValidationRun)
        freshness.watch(ValidationCheck, via="run")
        register_once(PrecisionCollector)
