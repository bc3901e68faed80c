"""`/api/v2/execution/budget/{masterplan_id}`: status, override, confirmation codes."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from budget.caps import CapsRefused, decide, held_message, pending_request, set_caps
from budget.models import CapRequest
from budget.overrides import (
    CapTooLow,
    CodeRefused,
    CodeRejected,
    code_request_message,
    override_and_resume,
    request_code,
)
from budget.status import STATES, budget_status, with_ledger_by_id
from execution.api.runs import Conflict, ServiceUnavailable, requires
from execution.models import MONEY, MasterPlan
from execution.runtime import jobs
from mge_site.money import AmountField
from mge_site.throttling import SENSITIVE


class Refused(APIException):
    """A refusal whose HTTP status the budget's verbs chose (CapsRefused.status)."""

    def __init__(self, refused: CapsRefused) -> None:
        message = str(refused)
        super().__init__(message)
        self.status_code = refused.status
        if refused.field:  # the one error shape names the input to fix
            self.detail = {
                "detail": ErrorDetail(message),
                "errors": {refused.field: [ErrorDetail(message)]},
            }


class CapRequestSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None)
    decided_by = serializers.CharField(source="decided_by.username", default=None)

    class Meta:
        model = CapRequest
        fields = ["id", "source", "status", "hard_cap_usd", "soft_cap_usd",
                  "applied_hard_cap_usd", "requested_by", "created_at", "decided_by",
                  "decided_at", "note"]  # fmt: skip
        read_only_fields = fields


class BudgetSerializer(serializers.Serializer):
    masterplan_id = serializers.UUIDField()
    cost_accumulated = serializers.DecimalField(**MONEY)
    soft_cap_usd = serializers.DecimalField(**MONEY)
    hard_cap_usd = serializers.DecimalField(**MONEY)
    percentage_used = serializers.DecimalField(max_digits=9, decimal_places=2)
    remaining_budget = serializers.DecimalField(**MONEY)
    reserved_usd = serializers.DecimalField(**MONEY)
    estimated_usd = serializers.DecimalField(
        **MONEY,
        help_text="Of cost_accumulated, calls whose worker died mid-call, charged at an "
        "estimate (exact input tokens, median output) until corrected.",
    )
    status = serializers.ChoiceField(choices=STATES)
    pending_cap_request = CapRequestSerializer(allow_null=True)


class CapsSerializer(serializers.Serializer):
    hard_cap_usd = AmountField(required=False)
    soft_cap_usd = AmountField(required=False)


class HeldSerializer(BudgetSerializer):
    detail = serializers.CharField(help_text="The raise waits for an approver: what to expect.")


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(["grant", "refuse"])
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class OverrideSerializer(serializers.Serializer):
    new_hard_cap = AmountField(help_text="USD, above what is spent.")
    new_soft_cap = AmountField(
        required=False, help_text="USD, at most the new hard cap; default: its share kept."
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
            "estimated_usd": state.estimated_usd,
            "status": state.status,
            "pending_cap_request": pending_request(masterplan),
        }
    ).data


class BudgetView(APIView):
    """GET the budget; PATCH the caps. A raise of the hard cap by someone who is not a
    budget_approver is held as a cap request (202) and the plan keeps its cap."""

    parser_classes = [JSONParser]  # amounts are strings of digits in JSON, nothing else

    def get_permissions(self):  # type: ignore[no-untyped-def]
        needed = "execution.run_masterplan" if self.request.method == "PATCH" else None
        return [IsAuthenticated(), requires(needed or "execution.view_masterplan")()]

    @extend_schema(responses={200: BudgetSerializer})
    def get(self, request: Request, masterplan_id: UUID) -> Response:
        masterplan = with_ledger_by_id(masterplan_id)
        if masterplan is None:
            raise NotFound(f"No masterplan with the id {masterplan_id}.")
        return Response(budget_json(masterplan))

    @extend_schema(
        request=CapsSerializer,
        responses={
            200: BudgetSerializer,
            202: HeldSerializer,
            409: OpenApiResponse(description="Paused at the hard cap: use the override"),
        },
    )
    def patch(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        incoming = CapsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)  # IsAuthenticated let the request in
        if not incoming.validated_data:  # nothing to change, as PATCH {} means
            return Response(budget_json(masterplan))
        try:
            saved = set_caps(
                masterplan.pk,
                request.user,
                hard_cap=incoming.validated_data.get("hard_cap_usd"),
                soft_cap=incoming.validated_data.get("soft_cap_usd"),
            )
        except CapsRefused as refused:
            raise Refused(refused) from None
        if saved.held is None:
            return Response(budget_json(saved.masterplan))
        return Response(
            {**budget_json(saved.masterplan), "detail": held_message(saved.held)},
            status=status.HTTP_202_ACCEPTED,
        )


class OverrideView(APIView):
    """Raise the hard cap of a plan, with a one-time confirmation code; resumes it."""

    permission_classes = [IsAuthenticated, requires("execution.override_budget")]
    throttle_classes = SENSITIVE
    parser_classes = [JSONParser]

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
                data.get("new_soft_cap"),
            )
        except jobs.QueueUnavailable as unavailable:
            raise ServiceUnavailable(f"{unavailable}. Nothing was changed.") from None
        except CodeRejected as rejected:
            raise PermissionDenied(str(rejected)) from None
        except CapTooLow as too_low:
            raise ValidationError({too_low.field: [str(too_low)]}) from None
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


class CapRequestsView(APIView):
    """GET a plan's cap requests, newest first (the audit trail of who asked and decided)."""

    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(responses={200: CapRequestSerializer(many=True)})
    def get(self, request: Request, masterplan_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        requests = masterplan.cap_requests.select_related("requested_by", "decided_by")
        return Response(CapRequestSerializer(requests[:200], many=True).data)


class CapRequestDecisionView(APIView):
    """POST {"decision": "grant" | "refuse", "note": "…"}: an approver decides a pending
    cap request; a grant applies the caps asked for."""

    permission_classes = [IsAuthenticated, requires("execution.override_budget")]
    parser_classes = [JSONParser]

    @extend_schema(
        request=DecisionSerializer,
        responses={
            200: CapRequestSerializer,
            409: OpenApiResponse(description="Already decided, or the plan is paused at its cap"),
        },
    )
    def post(self, request: Request, masterplan_id: str, request_id: str) -> Response:
        masterplan = get_object_or_404(MasterPlan, pk=masterplan_id)
        incoming = DecisionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)  # IsAuthenticated let the request in
        try:
            decided = decide(
                masterplan.pk,
                request_id,
                request.user,
                grant=incoming.validated_data["decision"] == "grant",
                note=incoming.validated_data.get("note", ""),
            )
        except CapsRefused as refused:
            raise Refused(refused) from None
        return Response(CapRequestSerializer(decided).data)
