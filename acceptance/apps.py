from __future__ import annotations

from django.apps import AppConfig


class AcceptanceConfig(AppConfig):
    name = "acceptance"
    verbose_name = "Acceptance tests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from acceptance import receivers  # noqa: F401  (connects the import hook)
        from acceptance.pipeline import ACCEPTANCE_CHECK
        from execution.runtime import checks

        checks.register(ACCEPTANCE_CHECK)
