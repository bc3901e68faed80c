"""`GET /api/v2/traceability/trace/{atom_id}` (an atom's latest execution, or `?execution=N`)
and `GET /api/v2/traceability/masterplan/{id}` (a summary per atom, filtered, paginated)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.api.runs import requires
from execution.models import Atom, MasterPlan
from mge_site.query import read_query
from tracing.models import AtomExecutionTrace, TraceEvent
from tracing.reading import NoSuchExecution, atom_trace, cost_by_bucket, parse_atom_id, plan_summary


class TraceQuery(serializers.Serializer):
    execution = serializers.IntegerField(
        required=False, min_value=1, help_text="1 for the first execution; default the latest."
    )


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TraceEvent
        fields = ["seq", "kind", "at", "offset_ms", "duration_ms", "data"]


class TraceSerializer(serializers.ModelSerializer):
    class Meta:
        model = AtomExecutionTrace
        fields = [
            "id", "execution", "scope", "status", "error", "wave",
            "context_completeness_score", "context_injected_at", "total_retries", "llm_calls",
            "cache_hits", "input_tokens", "output_tokens", "cache_creation_input_tokens",
            "cache_read_input_tokens", "cost_usd", "cost_saved_usd", "execution_time_seconds",
            "started_at", "finished_at",
        ]  # fmt: skip


def _check(check: Any) -> dict[str, Any]:
    return {
        "id": check.pk, "run": check.run_id, "level": check.level, "category": check.category,
        "status": check.status, "passed": check.passed, "message": check.message,
        "checked_at": check.run.created_at,
    }  # fmt: skip


class TraceView(APIView):
    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        parameters=[TraceQuery],
        responses={
            200: OpenApiResponse(
                description="atom (id, name, status …), executions (their numbers), trace "
                "(null for an atom never run) with its ordered events, cost by token bucket, "
                "and the atom's latest L1–L4 validation checks"
            ),
            404: OpenApiResponse(description="No atom with that id, or no such execution"),
        },
    )
    def get(self, request: Request, atom_id: str) -> Response:
        query = read_query(request, TraceQuery)
        pk = parse_atom_id(atom_id)
        atom = Atom.objects.filter(pk=pk).first() if pk else None
        if atom is None:
            raise NotFound(f"No atom with the id {atom_id}.")
        try:
            found = atom_trace(atom, query.get("execution"))
        except NoSuchExecution as error:
            raise NotFound(str(error)) from None
        trace = None
        if found.trace is not None:
            buckets = cost_by_bucket(found.trace)
            trace = {
                **TraceSerializer(found.trace).data,
                "cost_by_bucket": {**buckets, "cost_usd": str(buckets["cost_usd"])},
                "events": EventSerializer(found.events, many=True).data,
            }
        return Response(
            {
                "atom": {
                    "id": atom.pk,
                    "name": atom.name,
                    "masterplan": atom.masterplan_id,
                    "file_path": atom.file_path,
                    "language": atom.language,
                    "complexity": atom.complexity,
                    "status": atom.status,
                    "attempts": atom.attempts,
                },
                "executions": found.executions,
                "trace": trace,
                "validation": [_check(check) for check in found.checks],
            }  # fmt: skip
        )


class SummaryQuery(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=AtomExecutionTrace.Status.choices,
        required=False,
        help_text="The latest execution's status.",
    )
    min_retries = serializers.IntegerField(required=False, min_value=0)
    # A number in the schema: as a string its pattern would admit "" (refused as empty).
    min_cost_usd = serializers.DecimalField(
        required=False, max_digits=None, decimal_places=None, min_value=0, coerce_to_string=False
    )


class AtomSummarySerializer(serializers.ModelSerializer):
    atom = serializers.UUIDField(source="pk")
    wave = serializers.IntegerField(source="wave.number", allow_null=True)
    executions = serializers.IntegerField()
    trace_status = serializers.CharField(allow_null=True)
    total_retries = serializers.IntegerField(source="trace_retries")
    cost_usd = serializers.DecimalField(source="trace_cost_usd", max_digits=14, decimal_places=6)
    llm_calls = serializers.IntegerField(source="trace_llm_calls")
    cache_hits = serializers.IntegerField(source="trace_cache_hits")
    execution_time_seconds = serializers.FloatField(source="trace_seconds", allow_null=True)
    context_completeness_score = serializers.FloatField(
        source="traced_context_score", allow_null=True
    )

    class Meta:
        model = Atom
        fields = [
            "atom", "name", "file_path", "language", "complexity", "status", "wave",
            "executions", "trace_status", "total_retries", "cost_usd", "llm_calls", "cache_hits",
            "execution_time_seconds", "context_completeness_score",
        ]  # fmt: skip


class MasterPlanTracesView(ListAPIView):
    """Every atom of the plan with its traces' totals (all its executions)."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]
    serializer_class = AtomSummarySerializer

    @extend_schema(parameters=[SummaryQuery])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema's generation
            return Atom.objects.none()
        masterplan = MasterPlan.objects.filter(pk=self.kwargs["masterplan_id"]).first()
        if masterplan is None:
            raise NotFound(f"No masterplan with the id {self.kwargs['masterplan_id']}.")
        query = read_query(self.request, SummaryQuery)
        # Filtered on its annotations, which the type of the queryset does not carry.
        rows: Any = plan_summary(masterplan)
        if "status" in query:
            rows = rows.filter(trace_status=query["status"])
        if "min_retries" in query:
            rows = rows.filter(trace_retries__gte=query["min_retries"])
        if "min_cost_usd" in query:
            rows = rows.filter(trace_cost_usd__gte=query["min_cost_usd"])
        return rows
