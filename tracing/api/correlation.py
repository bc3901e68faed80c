"""`GET /api/v2/traceability/masterplan/{id}/correlation` and `GET /api/v2/traceability/
correlation` (every plan): the data behind the trace dashboard's four charts."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.api.runs import requires
from execution.models import MasterPlan
from tracing.correlations import MAX_BUCKETS, correlation

PANELS = (
    "scatter: one point per atom execution (x = its atom's complexity, 0 low, 1 medium, "
    "2 high; retries = total_retries), the executions per (complexity, retries), the mean "
    "retries per complexity and Pearson's r between the two (null under two distinct values); "
    "hit_rate: answered LLM calls (atoms' and acceptance tests' generation) and cache hits "
    "per time bucket (second, minute, hour or day: the finest that cuts the span into at "
    f"most {MAX_BUCKETS}, start in UTC), each bucket's rate and the cumulative rate; "
    "heatmap: per language × task name, the L1 pass rate (passed over all L1 validations), "
    "the first-try rate (executions whose first answer passed L1 over executions that got "
    "an answer) and the acceptance rate (atoms whose acceptance tests all passed their latest "
    "run, over atoms that a test which has run runs: a test runs the atoms whose files it "
    "imports and, transitively, the atoms those depend on), with "
    "their counts; timeline: per wave, its executions as [start_s, end_s] seconds since "
    "their plan's first execution started (end_s null while running) and its events by kind. "
    "Rates are fractions 0–1, null when there is nothing to count."
)


def _rate() -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, min_value=0, max_value=1)


class ScatterPointSerializer(serializers.Serializer):
    masterplan = serializers.UUIDField()
    atom = serializers.UUIDField()
    atom_name = serializers.CharField()
    execution = serializers.IntegerField()
    complexity = serializers.CharField()
    x = serializers.IntegerField(help_text="The complexity's position: 0 low, 1 medium, 2 high.")
    retries = serializers.IntegerField()


class ScatterCountSerializer(serializers.Serializer):
    complexity = serializers.CharField()
    x = serializers.IntegerField()
    retries = serializers.IntegerField()
    executions = serializers.IntegerField()


class ComplexityRetriesSerializer(serializers.Serializer):
    complexity = serializers.CharField()
    x = serializers.IntegerField()
    executions = serializers.IntegerField()
    mean_retries = serializers.FloatField(allow_null=True)


class ScatterSerializer(serializers.Serializer):
    points = ScatterPointSerializer(many=True)
    counts = ScatterCountSerializer(many=True)
    by_complexity = ComplexityRetriesSerializer(many=True)
    pearson_r = serializers.FloatField(allow_null=True, min_value=-1, max_value=1)


class HitRateBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    calls = serializers.IntegerField()
    hits = serializers.IntegerField()
    rate = serializers.FloatField(min_value=0, max_value=1)
    cumulative_calls = serializers.IntegerField()
    cumulative_hits = serializers.IntegerField()
    cumulative_rate = serializers.FloatField(min_value=0, max_value=1)


class HitRateSerializer(serializers.Serializer):
    bucket = serializers.CharField(allow_null=True, help_text="second, minute, hour or day")
    bucket_seconds = serializers.IntegerField(allow_null=True)
    buckets = HitRateBucketSerializer(many=True)
    calls = serializers.IntegerField()
    hits = serializers.IntegerField()
    rate = _rate()


class HeatCellSerializer(serializers.Serializer):
    language = serializers.CharField()
    task = serializers.CharField()
    atoms = serializers.IntegerField()
    executions = serializers.IntegerField()
    validations = serializers.IntegerField()
    validations_passed = serializers.IntegerField()
    l1_pass_rate = _rate()
    answered_executions = serializers.IntegerField()
    first_try_passed = serializers.IntegerField()
    first_try_rate = _rate()
    acceptance_atoms = serializers.IntegerField()
    acceptance_passed = serializers.IntegerField()
    acceptance_rate = _rate()


class HeatmapSerializer(serializers.Serializer):
    languages = serializers.ListField(child=serializers.CharField())
    tasks = serializers.ListField(child=serializers.CharField())
    cells = HeatCellSerializer(many=True)


class TimelineExecutionSerializer(serializers.Serializer):
    masterplan = serializers.UUIDField()
    atom = serializers.UUIDField()
    atom_name = serializers.CharField()
    execution = serializers.IntegerField()
    status = serializers.CharField()
    start_s = serializers.FloatField()
    end_s = serializers.FloatField(allow_null=True)


class WaveTimelineSerializer(serializers.Serializer):
    wave = serializers.IntegerField(allow_null=True)
    start_s = serializers.FloatField()
    end_s = serializers.FloatField(allow_null=True)
    executions = TimelineExecutionSerializer(many=True)
    events = serializers.DictField(child=serializers.IntegerField(), help_text="kind → count")


class CorrelationSerializer(serializers.Serializer):
    masterplan = serializers.UUIDField(allow_null=True)
    scatter = ScatterSerializer()
    hit_rate = HitRateSerializer()
    heatmap = HeatmapSerializer()
    timeline = WaveTimelineSerializer(many=True)


class CorrelationView(APIView):
    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        responses={
            200: OpenApiResponse(CorrelationSerializer, description=f"One plan's panels. {PANELS}"),
            404: OpenApiResponse(description="No masterplan with that id"),
        },
    )
    def get(self, request: Request, masterplan_id: str) -> Response:
        masterplan = MasterPlan.objects.filter(pk=masterplan_id).first()
        if masterplan is None:
            raise NotFound(f"No masterplan with the id {masterplan_id}.")
        return Response(CorrelationSerializer(correlation(masterplan)).data)


class AllCorrelationView(APIView):
    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        responses={
            200: OpenApiResponse(
                CorrelationSerializer,
                description="The panels over every masterplan (masterplan: null; the heatmap "
                f"groups tasks by name; each plan's timeline from its own start). {PANELS}",
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response(CorrelationSerializer(correlation(None)).data)
