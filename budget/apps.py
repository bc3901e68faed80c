from __future__ import annotations

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class BudgetConfig(AppConfig):
    name = "budget"
    verbose_name = "Budget"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from budget import receivers  # noqa: F401  (the import hook)
        from budget.guardrails import budget_guard
        from budget.metrics import BudgetCollector
        from budget.models import CostEntry, spent_by_masterplan
        from budget.status import lowest_budget_remaining_pct, reserved_now
        from execution.llm import gateway
        from execution.pages import freshness
        from execution.runtime import concurrency, spend
        from mge_site.prometheus import register_once

        gateway.plug("budget", budget_guard)
        concurrency.use_budget_signal(lowest_budget_remaining_pct)
        spend.use_spent_expression(spent_by_masterplan)
        # The budget bar on the masterplan's page: the ledger, and the reservations in Redis.
        freshness.watch(CostEntry)
        freshness.watch_value(reserved_now)

        register_once(BudgetCollector)
        from budget.pricing import UnknownModel, check_configured_models

        try:
            check_configured_models()
        except (UnknownModel, KeyError, ValueError) as error:
            # A model without a price would make every call cost $0: refuse to start.
            raise ImproperlyConfigured(
                f"MGE_MODEL_BY_COMPLEXITY / MGE_MODEL_PRICES: {error}"
            ) from None
