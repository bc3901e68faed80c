"""Running masterplans over the API: start, pause, resume, cancel, progress, jobs."""

from __future__ import annotations

import uuid
from typing import Any

import django_rq
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rq.exceptions import NoSuchJobError
from rq.job import Job

from execution.models import MasterPlan
from execution.runtime import jobs, lifecycle
from execution.runtime.concurrency import ConcurrencyLimiter, budget_remaining_pct
from execution.runtime.progress import masterplan_progress, masterplan_with_spent


def requires(permission: str) -> type[BasePermission]:
    class HasPermission(BasePermission):
        message = f"You need the {permission!r} permission."

        def has_permission(self, request: Request, view: APIView) -> bool:
            return bool(request.user and request.user.has_perm(permission))

    return HasPermission


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Busy(APIException):
    """429 with Retry-After (DRF's handler sends the header for an exception's `wait`)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "busy"

    def __init__(self, detail: str, wait_seconds: int) -> None:
        super().__init__(detail)
        self.wait = wait_seconds


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


ControlResponse = inline_serializer(
    "ControlResponse",
    {
        "masterplan_id": serializers.UUIDField(),
        "status": serializers.CharField(),
        "job_id": serializers.CharField(allow_null=True),
        "job_ids": serializers.ListField(child=serializers.CharField()),
    },
)


class MasterPlanControlView(APIView):
    """POST …/masterplans/{id}/start|pause|resume|cancel → 202 with the queued job ids."""

    permission_classes = [IsAuthenticated, requires("execution.run_masterplan")]
    action_name = ""

    @extend_schema(
        request=None,
        responses={
            202: ControlResponse,
            404: OpenApiResponse(description="No such masterplan"),
            409: OpenApiResponse(description="The masterplan's status does not allow it"),
            429: OpenApiResponse(description="Too many calls wait for a slot; see Retry-After"),
            503: OpenApiResponse(description="The job queue is down"),
        },
    )
    def post(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        try:
            result = lifecycle.ACTIONS[self.action_name](masterplan.pk)
        except lifecycle.TransitionRefused as refused:
            raise Conflict(
                {"detail": str(refused), "status": refused.status,
                 "allowed_actions": refused.allowed_actions}
            ) from None  # fmt: skip
        except jobs.QueueUnavailable as unavailable:
            raise ServiceUnavailable(f"{unavailable}. Try again when it is back.") from None
        except jobs.Backpressure as busy:
            raise Busy(str(busy), busy.retry_after_seconds) from None
        return Response(
            {
                "masterplan_id": str(masterplan.pk),
                "status": result.status,
                "job_id": result.job_ids[0] if result.job_ids else None,
                "job_ids": result.job_ids,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class MasterPlanProgressView(APIView):
    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: OpenApiResponse(description="Counts per wave and status")})
    def get(self, request: Request, masterplan_id: uuid.UUID) -> Response:
        masterplan = masterplan_with_spent(masterplan_id)
        if masterplan is None:
            raise NotFound(f"No masterplan with the id {masterplan_id}.")
        return Response(masterplan_progress(masterplan))


class JobView(APIView):
    """The state of a queued job (RQ), by the id a 202 answer gave."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: OpenApiResponse(description="The job's state")})
    def get(self, request: Request, job_id: str) -> Response:
        try:
            job = Job.fetch(job_id, connection=django_rq.get_connection("waves"))
        except NoSuchJobError:
            raise NotFound(f"No job {job_id!r} (unknown, or expired after its results).") from None
        except RedisError as error:
            raise ServiceUnavailable(f"the job queue (Redis) is not reachable: {error}") from None
        return Response(_job_json(job))


def _job_json(job: Job) -> dict[str, Any]:
    result = job.latest_result()
    return {
        "id": job.id,
        "status": job.get_status().value,
        "description": job.description,
        "enqueued_at": job.enqueued_at,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "result": result.return_value if result and result.type == result.Type.SUCCESSFUL else None,
        "error": result.exc_string.strip().splitlines()[-1]
        if result and result.type == result.Type.FAILED and result.exc_string
        else None,
    }


class ConcurrencyStatsView(APIView):
    """The shared limit of LLM calls: where it stands, what moved it, what is in flight."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        responses={200: OpenApiResponse(description="Limit, load, signals, adjustments")}
    )
    def get(self, request: Request) -> Response:
        try:
            stats = ConcurrencyLimiter().stats()
        except RedisError as error:
            raise ServiceUnavailable(f"the limiter (Redis) is not reachable: {error}") from None
        stats["budget_remaining_pct"] = budget_remaining_pct()
        return Response(stats)
