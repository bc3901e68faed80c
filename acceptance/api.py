"""Acceptance tests over the API, at the seed's paths under /api/v2/testing/."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import User
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from acceptance.gate import gate_status
from acceptance.models import AcceptanceTest, Requirement, TestResult, TestRun
from acceptance.review import NotReviewable, mark_reviewed
from acceptance.runs import NotNow, request_generation, request_run, run_summary
from execution.api.runs import Conflict, ServiceUnavailable, requires
from execution.models import MasterPlan, Wave
from execution.runtime.jobs import QueueUnavailable
from mge_site.query import one_of, optional_boolean, read_query


class RequirementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requirement
        fields = ["id", "masterplan", "text", "priority", "classified_by", "flag",
                  "source_line", "position"]  # fmt: skip


class RequirementViewSet(viewsets.ReadOnlyModelViewSet):
    """Requirements, read-only (the masterplan import creates them)."""

    queryset = Requirement.objects.all()
    serializer_class = RequirementSerializer
    filterset_fields = ["masterplan", "priority"]


class GenerateView(APIView):
    """POST /testing/generate/{masterplan_id} → 202: (re)generate a test per requirement."""

    permission_classes = [IsAuthenticated, requires("execution.run_acceptance_tests")]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="The queued job"),
            409: OpenApiResponse(description="Not now: no requirements, or the plan runs"),
            503: OpenApiResponse(description="The job queue is down"),
        },
    )
    def post(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        try:
            job_id = request_generation(masterplan)
        except NotNow as not_now:
            raise Conflict(str(not_now)) from None
        except QueueUnavailable as unavailable:
            raise ServiceUnavailable(str(unavailable)) from None
        return Response(
            {"masterplan_id": str(masterplan.pk), "job_id": job_id,
             "status_url": f"/api/v2/jobs/{job_id}"},
            status=status.HTTP_202_ACCEPTED,
        )  # fmt: skip


class RunView(APIView):
    """POST /testing/run/{wave_id} → 202: run every test of the wave's masterplan in one
    sandboxed batch; the results are recorded against the wave."""

    permission_classes = [IsAuthenticated, requires("execution.run_acceptance_tests")]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="The queued run"),
            409: OpenApiResponse(description="Not now: no tests yet, or a run is under way"),
            503: OpenApiResponse(description="The job queue is down"),
        },
    )
    def post(self, request: Request, wave_id: str) -> Response:
        wave = get_object_or_404(Wave.objects.select_related("masterplan"), pk=wave_id)
        try:
            run = request_run(wave.masterplan, wave)
        except NotNow as not_now:
            raise Conflict(str(not_now)) from None
        except QueueUnavailable as unavailable:
            raise ServiceUnavailable(str(unavailable)) from None
        return Response(
            {
                **run_summary(run),
                "job_id": run.job_id,
                "status_url": f"/api/v2/testing/runs/{run.pk}",
            },
            status=status.HTTP_202_ACCEPTED,
        )


class RunDetailView(APIView):
    """GET /testing/runs/{run_id}: the run's state and summary."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        responses={200: OpenApiResponse(description="total_tests, passed, failed, rates")}
    )
    def get(self, request: Request, run_id: str) -> Response:
        return Response(run_summary(get_object_or_404(TestRun, pk=run_id)))


class TestResultSerializer(serializers.ModelSerializer):
    requirement = serializers.UUIDField(source="test.requirement_id")
    priority = serializers.CharField(source="test.requirement.priority")
    requirement_text = serializers.CharField(source="test.requirement.text")
    file_path = serializers.CharField(source="test.file_path")
    wave_number = serializers.IntegerField(source="wave.number", allow_null=True, default=None)

    class Meta:
        model = TestResult
        fields = ["id", "run", "test", "requirement", "priority", "requirement_text", "file_path",
                  "wave", "wave_number", "status", "duration_s", "message", "trace",
                  "created_at"]  # fmt: skip


WAVE_NUMBER_OR_ID = (
    r"^([0-9]{1,6}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"
)


class ResultsQuery(serializers.Serializer):
    status = one_of(TestResult.Status.choices)
    priority = one_of(Requirement.Priority.choices)
    wave = serializers.RegexField(
        WAVE_NUMBER_OR_ID,
        required=False,
        help_text="A wave number or a wave id.",
        error_messages={"invalid": "Give a wave number (1, 2, …) or a wave id (a UUID)."},
    )
    latest = optional_boolean("true: each test's latest result only.")


class ResultsView(ListAPIView):
    """GET /testing/results/{masterplan_id}: every result, newest first, paginated;
    `?status=`, `?priority=`, `?wave=<wave number or id>`, `?latest=true` (each test's
    latest result only)."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]
    serializer_class = TestResultSerializer
    filter_backends: list[type] = []

    @extend_schema(parameters=[ResultsQuery])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):  # type: ignore[no-untyped-def]
        masterplan = get_object_or_404(MasterPlan, pk=self.kwargs["masterplan_id"])
        query = read_query(self.request, ResultsQuery)
        results = TestResult.objects.filter(run__masterplan=masterplan).select_related(
            "test__requirement", "wave"
        )
        if "status" in query:
            results = results.filter(status=query["status"])
        if "priority" in query:
            results = results.filter(test__requirement__priority=query["priority"])
        if "wave" in query:
            wave = query["wave"]
            results = results.filter(
                **({"wave__number": int(wave)} if wave.isdigit() else {"wave_id": wave})
            )
        if query.get("latest"):
            newest = TestResult.objects.filter(test=OuterRef("test")).order_by(
                *TestResult.LATEST_FIRST
            )
            results = results.filter(pk=Subquery(newest.values("pk")[:1]))
            return results.order_by("test__requirement__position")
        return results.order_by("-created_at", "test__requirement__position")


class GateStatusView(APIView):
    """GET /testing/gate-status/{masterplan_id}: passed iff every MUST test passes and at
    least 95 % of the SHOULD tests pass, on each test's latest result."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: OpenApiResponse(description="gate_passed, rates, blocking")})
    def get(self, request: Request, masterplan_id: uuid.UUID) -> Response:
        gate = gate_status(masterplan_id)
        # Requirements counted mean the plan exists (the answer is polled: one query
        # fewer); none, and it may not.
        counted = gate.must_total or gate.should_total
        if not counted and not MasterPlan.objects.filter(pk=masterplan_id).exists():
            raise NotFound(f"No masterplan with the id {masterplan_id}.")
        return Response({"masterplan_id": str(masterplan_id), **gate.as_json()})


class ReviewedSerializer(serializers.ModelSerializer):
    reviewed_by = serializers.CharField(source="reviewed_by.username", default=None)

    class Meta:
        model = AcceptanceTest
        fields = ["id", "requirement", "file_path", "generated_by", "reviewed_by", "reviewed_at"]
        read_only_fields = fields


class ReviewView(APIView):
    """POST /testing/tests/{test_id}/review: a reviewer vouches for a template test, whose
    pass then counts for the gate (an LLM-written test counts already: 409)."""

    permission_classes = [IsAuthenticated, requires("execution.run_acceptance_tests")]

    @extend_schema(
        request=None,
        responses={
            200: ReviewedSerializer,
            409: OpenApiResponse(description="Written by the LLM, invalid, or reviewed already"),
        },
    )
    def post(self, request: Request, test_id: str) -> Response:
        assert isinstance(request.user, User)  # IsAuthenticated let the request in
        try:
            test = mark_reviewed(test_id, request.user)
        except AcceptanceTest.DoesNotExist:
            raise NotFound(f"No acceptance test with the id {test_id}.") from None
        except NotReviewable as refused:
            raise Conflict(str(refused)) from None
        return Response(ReviewedSerializer(test).data)
