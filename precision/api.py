"""Precision over the API: the score and its history (seed: /api/v2/precision/score/{id}),
and validation runs (/api/v2/validation/masterplan/{id})."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.api.runs import ServiceUnavailable, requires
from execution.models import MasterPlan
from execution.runtime import jobs
from mge_site.query import one_of, optional_boolean, read_query
from precision.models import PrecisionSnapshot, Severity, ValidationCheck, ValidationRun
from precision.reports import check_json, not_scored_json, run_json, snapshot_json
from precision.scoring import TARGET, latest_snapshot
from precision.tasks import JOB_TIMEOUT_SECONDS

HISTORY_LIMIT = 500


def _masterplan(masterplan_id: str) -> MasterPlan:
    try:
        return MasterPlan.objects.get(pk=masterplan_id)
    except MasterPlan.DoesNotExist:
        raise NotFound(f"No masterplan with the id {masterplan_id}.") from None


class ScoreView(APIView):
    """GET /precision/score/{masterplan_id}: the latest snapshot of the composite score."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: OpenApiResponse(description="score, its components, counts")})
    def get(self, request: Request, masterplan_id: str) -> Response:
        masterplan = _masterplan(masterplan_id)
        snapshot = latest_snapshot(masterplan.pk)
        return Response(snapshot_json(snapshot) if snapshot else not_scored_json(masterplan))


class HistoryView(APIView):
    """GET /precision/history/{masterplan_id}: every snapshot, oldest first."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: OpenApiResponse(description="The snapshots, oldest first")})
    def get(self, request: Request, masterplan_id: str) -> Response:
        masterplan = _masterplan(masterplan_id)
        snapshots = (
            PrecisionSnapshot.objects.filter(masterplan=masterplan)
            .select_related("wave")
            .order_by("-created_at")[:HISTORY_LIMIT]
        )
        return Response(
            {
                "masterplan": str(masterplan.pk),
                "target": TARGET,
                "snapshots": [snapshot_json(snapshot) for snapshot in reversed(snapshots)],
            }
        )


class ChecksQuery(serializers.Serializer):
    level = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=4,
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_value", "max_string_length"),
            "must be one of 1, 2, 3, 4 (L1 syntax … L4 build)",
        ),
    )
    passed = optional_boolean("true: passed checks only; false: failed ones only.")
    severity = one_of(Severity.choices)
    status = one_of(ValidationCheck.Status.choices)


class ValidationView(APIView):
    """POST /validation/masterplan/{id} → 202: run L1–L4 now (a job) and score the plan.
    GET: the latest run's checks, filtered by ?level=, ?passed=, ?severity=, ?status=."""

    def get_permissions(self) -> list[Any]:
        needed = (
            "execution.run_acceptance_tests"
            if self.request.method == "POST"
            else ("execution.view_masterplan")
        )
        return [IsAuthenticated(), requires(needed)()]

    @extend_schema(
        request=None,
        responses={
            202: OpenApiResponse(description="The queued job"),
            503: OpenApiResponse(description="The job queue is down"),
        },
    )
    def post(self, request: Request, masterplan_id: str) -> Response:
        masterplan = _masterplan(masterplan_id)
        try:
            jobs.require_queue()
            job_id = jobs.enqueue(
                "precision.tasks.validate_masterplan",
                str(masterplan.pk),
                queue="tests",
                timeout_seconds=JOB_TIMEOUT_SECONDS,
            )
        except jobs.QueueUnavailable as unavailable:
            raise ServiceUnavailable(str(unavailable)) from None
        return Response(
            {
                "masterplan_id": str(masterplan.pk),
                "job_id": job_id,
                "status_url": f"/api/v2/jobs/{job_id}",
            },
            status=status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        parameters=[ChecksQuery],
        responses={200: OpenApiResponse(description="The latest run and its checks")},
    )
    def get(self, request: Request, masterplan_id: str) -> Response:
        masterplan = _masterplan(masterplan_id)
        query = read_query(request, ChecksQuery)
        run = ValidationRun.objects.filter(masterplan=masterplan).order_by("-created_at").first()
        if run is None:
            return Response(
                {
                    "masterplan": str(masterplan.pk),
                    "run": None,
                    "checks": [],
                    "reason": "not validated yet",
                }
            )
        checks = run.checks.select_related("atom").order_by("level", "file", "line")
        if "level" in query:
            checks = checks.filter(level=query["level"])
        if query.get("passed") is not None:
            checks = checks.filter(passed=query["passed"])
        if "severity" in query:
            checks = checks.filter(severity=query["severity"])
        if "status" in query:
            checks = checks.filter(status=query["status"])
        return Response(
            {
                "masterplan": str(masterplan.pk),
                "run": run_json(run),
                "checks": [check_json(check) for check in checks],
            }
        )
