"""`/api/v2/execution/budget/{masterplan_id}`: status, override, confirmation codes."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from budget.overrides import (
    CapsRefused,
    CapTooLow,
    CodeRefused,
    CodeRejected,
    code_request_message,
    override_and_resume,
    request_code,
    set_caps,
)
from budget.status import budget_status
from execution.api.runs import Conflict, ServiceUnavailable, requires
from execution.models import MONEY, MasterPlan
from execution.runtime import jobs
from mge_site.throttling import SENSITIVE


class BudgetSerializer(serializers.Serializer):
    masterplan_id = serializers.UUIDField()
    cost_accumulated = serializers.DecimalField(**MONEY)
    soft_cap_usd = serializers.DecimalField(**MONEY)
    hard_cap_usd = serializers.DecimalField(**MONEY)
    percentage_used = serializers.DecimalField(max_digits=9, decimal_places=2)
    remaining_budget = serializers.DecimalField(**MONEY)
    reserved_usd = serializers.DecimalField(**MONEY)
    status = serializers.ChoiceField(choices=["OK", "WARNING", "CRITICAL", "PAUSED"])


class CapsSerializer(serializers.Serializer):
    hard_cap_usd = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=0, required=False
    )
    soft_cap_usd = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=0, required=False
    )

    def validate(self, data: dict) -> dict:
        if not data:
            raise serializers.ValidationError("Send hard_cap_usd, soft_cap_usd or both.")
        return data


class OverrideSerializer(serializers.Serializer):
    new_hard_cap = serializers.DecimalField(
        max_digits=14, decimal_places=6, min_value=0, help_text="USD, above what is spent."
    )
    confirmation_code = serializers.CharField(max_length=20, trim_whitespace=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


def budget_json(masterplan: MasterPlan) -> dict:
    state = budget_status(masterplan)
    return BudgetSerializer(
        {
            "masterplan_id": masterplan.pk,
            "cost_accumulated": state.cost_accumulated,
            "soft_cap_usd": state.soft_cap_usd,
            "hard_cap_usd": state.hard_cap_usd,
            "percentage_used": state.percentage_used,
            "remaining_budget": state.remaining_budget,
            "reserved_usd": state.reserved_usd,
            "status": state.status,
        }
    ).data


class BudgetView(APIView):
    """GET the budget; PATCH the caps (raising the hard cap: budget_approver)."""

    def get_permissions(self):  # type: ignore[no-untyped-def]
        needed = "execution.run_masterplan" if self.request.method == "PATCH" else None
        return [IsAuthenticated(), requires(needed or "execution.view_masterplan")()]

    @extend_schema(responses={200: BudgetSerializer})
    def get(self, request: Request, masterplan_id: str) -> Response:
        return Response(budget_json(get_object_or_404(MasterPlan, pk=masterplan_id)))

    @extend_schema(request=CapsSerializer, responses={200: BudgetSerializer})
    def patch(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        incoming = CapsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)  # IsAuthenticated let the request in
        try:
            masterplan = set_caps(
                masterplan.pk,
                request.user,
                hard_cap=incoming.validated_data.get("hard_cap_usd"),
                soft_cap=incoming.validated_data.get("soft_cap_usd"),
            )
        except CapsRefused as refused:
            return Response({"detail": str(refused)}, status=refused.status)
        return Response(budget_json(masterplan))


class OverrideView(APIView):
    """Raise the hard cap of a plan, with a one-time confirmation code; resumes it."""

    permission_classes = [IsAuthenticated, requires("execution.override_budget")]
    throttle_classes = SENSITIVE

    @extend_schema(
        request=OverrideSerializer,
        responses={
            200: BudgetSerializer,
            400: OpenApiResponse(description="The new cap does not exceed what is spent"),
            403: OpenApiResponse(description="No permission, or a wrong/expired/used code"),
        },
    )
    def post(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        incoming = OverrideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        assert isinstance(request.user, User)  # IsAuthenticated let the request in
        try:
            masterplan = override_and_resume(
                masterplan.pk,
                request.user,
                data["new_hard_cap"],
                data["confirmation_code"],
                data.get("reason", ""),
            )
        except jobs.QueueUnavailable as unavailable:
            raise ServiceUnavailable(f"{unavailable}. Nothing was changed.") from None
        except CodeRejected as rejected:
            raise PermissionDenied(str(rejected)) from None
        except CapTooLow as too_low:
            raise ValidationError({"new_hard_cap": [str(too_low)]}) from None
        return Response({**budget_json(masterplan), "masterplan_status": masterplan.status})


class ConfirmationCodeView(APIView):
    """A new one-time code for an override; the plan's earlier code is void. Shown once to
    whoever asked — or, under the two-person rule, mailed to the other approvers only."""

    permission_classes = [IsAuthenticated, requires("execution.override_budget")]
    throttle_classes = SENSITIVE

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "ConfirmationCode",
                {
                    "confirmation_code": serializers.CharField(allow_null=True),
                    "expires_at": serializers.DateTimeField(),
                    "two_person": serializers.BooleanField(),
                    "mailed_to": serializers.IntegerField(),
                    "detail": serializers.CharField(),
                },
            ),
            409: OpenApiResponse(description="Two-person rule, and no other approver to mail"),
        },
    )
    def post(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        try:
            issued = request_code(masterplan, request.user)  # type: ignore[arg-type]
        except CodeRefused as refused:
            raise Conflict(str(refused)) from None
        return Response(
            {
                "confirmation_code": issued.code,
                "expires_at": issued.expires_at,
                "two_person": issued.code is None,
                "mailed_to": len(issued.mailed_to),
                "detail": code_request_message(issued),
            },
            status=status.HTTP_201_CREATED,
        )
