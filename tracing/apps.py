from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "tracing"
    verbose_name = "Tracing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import os

        from execution import events
        from execution.llm import gateway
        from execution.signals import atoms_abandoned
        from mge_site.prometheus import register_once
        from tracing import service
        from tracing.metrics import TracingCollector
        from tracing.stage import trace_stage

        events.listen(DatabaseTraces())
        events.on_listener_failure(service.count_error)
        gateway.plug("trace", trace_stage)
        atoms_abandoned.connect(_abandon, dispatch_uid="tracing.abandon")
        register_once(TracingCollector)
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ):
            from tracing.otel import OpenTelemetryTraces

            OpenTelemetryTraces.from_environment().install()


class DatabaseTraces:
    """The listener that keeps a trace per execution in the database."""

    def begin(self, scope: Any, run_db: Callable[..., Any]) -> Any:
        from tracing.service import start_trace

        return start_trace(scope, run_db)

    def flush(self, run_db: Callable[..., Any] | None = None) -> None:
        from tracing.service import flush

        lane = getattr(run_db, "__self__", None)
        if lane is not None:
            flush(lane)


def _abandon(sender: object, atom_ids: list[str], **kwargs: object) -> None:
    from tracing.service import abandon

    abandon(atom_ids)
