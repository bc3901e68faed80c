"""The masterplan API: import, list, read, delete; the tree, atoms and waves read-only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from execution.actions import MasterPlanBusyError, delete_masterplan, import_with_notices
from execution.document.format import MasterPlanFormatError
from execution.models import Atom, MasterPlan, Milestone, Phase, Task, Wave
from mge_site.filters import IdFilterSet


class InvalidMasterPlanDocument(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_document"

    def __init__(self, error: MasterPlanFormatError) -> None:
        count = len(error.problems)
        detail: dict[str, object] = {
            "detail": f"The masterplan document has {count} problem{'s' * (count != 1)}: "
            + "; ".join(str(problem) for problem in error.problems),
            "errors": {"document": [str(problem) for problem in error.problems]},
            "problems": [
                {"line": problem.line, "message": problem.message} for problem in error.problems
            ],
        }
        # The stubs allow only ErrorDetail strings in a detail, but the lines stay numbers
        # (or null) on purpose: DRF's exception handler sends a dict detail as it is.
        self.detail = detail  # type: ignore[assignment]


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class WaveSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Wave
        fields = ["id", "number", "status", "atom_count", "completed_count", "failed_count"]


class MasterPlanSerializer(serializers.ModelSerializer):
    atom_total = serializers.IntegerField(read_only=True)
    atom_completed = serializers.IntegerField(read_only=True)
    atom_placeholders = serializers.IntegerField(
        read_only=True,
        help_text="Atoms holding an offline placeholder: not generated code.",
    )
    cost_total_usd = serializers.DecimalField(
        max_digits=14, decimal_places=6, read_only=True, default=Decimal(0)
    )

    class Meta:
        model = MasterPlan
        fields = [
            "id",
            "name",
            "summary",
            "status",
            "status_reason",
            "budget_soft_cap_usd",
            "budget_hard_cap_usd",
            "cost_paused_at",
            "default_model",
            "options",
            "atom_total",
            "atom_completed",
            "atom_placeholders",
            "cost_total_usd",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MasterPlanDetailSerializer(MasterPlanSerializer):
    waves = WaveSummarySerializer(many=True, read_only=True)
    requirement_count = serializers.SerializerMethodField()

    class Meta(MasterPlanSerializer.Meta):
        fields = [*MasterPlanSerializer.Meta.fields, "workspace_path", "waves", "requirement_count"]
        read_only_fields = fields

    def get_requirement_count(self, masterplan: MasterPlan) -> dict[str, int]:
        counts = {"must": 0, "should": 0}
        for requirement in masterplan.requirements.all():
            counts[requirement.priority] += 1
        return counts


class MasterPlanCreatedSerializer(MasterPlanDetailSerializer):
    notices = serializers.SerializerMethodField()

    class Meta(MasterPlanDetailSerializer.Meta):
        fields = [*MasterPlanDetailSerializer.Meta.fields, "notices"]
        read_only_fields = fields

    def get_notices(self, masterplan: MasterPlan) -> list[str]:
        """What the importer must know, e.g. a hard cap held for a budget approver."""
        return list(self.context.get("notices", []))


class MasterPlanImportSerializer(serializers.Serializer):
    document = serializers.CharField(
        required=False, trim_whitespace=False, help_text="The masterplan document (markdown)."
    )
    file = serializers.FileField(required=False, help_text="Or the document as a file upload.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "document" not in data and "file" not in data:
            raise serializers.ValidationError(
                "Send the masterplan document as 'document' (its text) or as 'file' (an upload)."
            )
        if "document" in data and "file" in data:
            raise serializers.ValidationError(
                "Send the masterplan either as 'document' (text) or as 'file' (upload), not both."
            )
        if "file" in data:
            try:
                data["document"] = data.pop("file").read().decode("utf-8")
            except UnicodeDecodeError:
                raise serializers.ValidationError(
                    {"file": "The file is not UTF-8 text; save the masterplan as UTF-8."}
                ) from None
        return data


class DocumentImportSerializer(serializers.Serializer):
    document = serializers.CharField(trim_whitespace=False, help_text="The masterplan (markdown).")


class FileImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The masterplan document as a file (UTF-8).")


class MasterPlanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Masterplans. Create imports a document; delete removes the plan and its workspace."""

    filterset_fields = ["status"]

    def get_queryset(self) -> QuerySet[MasterPlan]:
        queryset = MasterPlan.objects.with_progress()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("waves", "requirements")
        return queryset

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return MasterPlanImportSerializer
        if self.action == "retrieve":
            return MasterPlanDetailSerializer
        return MasterPlanSerializer

    @extend_schema(
        # The one serializer takes either; the schema says which field each encoding needs.
        request={
            "application/json": DocumentImportSerializer,
            "multipart/form-data": FileImportSerializer,
        },
        responses={
            201: MasterPlanCreatedSerializer,
            400: OpenApiResponse(description="Not a valid masterplan: `problems` by line"),
        },
    )
    def create(self, request: Request) -> Response:
        incoming = MasterPlanImportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        assert isinstance(request.user, User)  # the model permissions let only users in
        try:
            imported = import_with_notices(
                incoming.validated_data["document"], created_by=request.user
            )
        except MasterPlanFormatError as error:
            raise InvalidMasterPlanDocument(error) from None
        created = (
            self.get_queryset()
            .prefetch_related("waves", "requirements")
            .get(pk=imported.masterplan.pk)
        )
        return Response(
            MasterPlanCreatedSerializer(created, context={"notices": imported.notices}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="The plan is running: cancel it first"),
        }
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: MasterPlan) -> None:
        try:
            delete_masterplan(instance.pk)
        except MasterPlanBusyError as error:
            raise Conflict(str(error)) from None


class PhaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Phase
        fields = ["id", "masterplan", "name", "description", "position"]


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = ["id", "phase", "name", "description", "position"]


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = ["id", "milestone", "name", "description", "position"]


class AtomSerializer(serializers.ModelSerializer):
    depends_on = serializers.SerializerMethodField()
    wave_number = serializers.IntegerField(source="wave.number", allow_null=True, default=None)

    class Meta:
        model = Atom
        fields = [
            "id",
            "masterplan",
            "task",
            "wave",
            "wave_number",
            "name",
            "description",
            "file_path",
            "language",
            "complexity",
            "status",
            "placeholder",
            "attempts",
            "max_attempts",
            "last_error",
            "cost_usd",
            "execution_time_seconds",
            "context_score",
            "depends_on",
            "source_line",
            "started_at",
            "finished_at",
        ]

    def get_depends_on(self, atom: Atom) -> list[dict[str, str]]:
        return [
            {"atom": str(dependency.depends_on_id), "kind": dependency.kind}
            for dependency in atom.dependencies.all()
        ]


class WaveSerializer(WaveSummarySerializer):
    class Meta(WaveSummarySerializer.Meta):
        fields = [*WaveSummarySerializer.Meta.fields, "masterplan", "started_at", "finished_at"]


class TaskFilter(IdFilterSet):
    masterplan = django_filters.UUIDFilter(field_name="milestone__phase__masterplan")

    class Meta:
        model = Task
        fields = ["masterplan", "milestone"]


class MilestoneFilter(IdFilterSet):
    masterplan = django_filters.UUIDFilter(field_name="phase__masterplan")

    class Meta:
        model = Milestone
        fields = ["masterplan", "phase"]


class PhaseViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Phase.objects.all()
    serializer_class = PhaseSerializer
    filterset_fields = ["masterplan"]


class MilestoneViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Milestone.objects.all()
    serializer_class = MilestoneSerializer
    filterset_class = MilestoneFilter


class TaskViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Task.objects.all()
    serializer_class = TaskSerializer
    filterset_class = TaskFilter


class AtomViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Atom.objects.select_related("wave").prefetch_related("dependencies")
    serializer_class = AtomSerializer
    filterset_fields = ["masterplan", "task", "wave", "status", "language", "complexity"]


class WaveViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Wave.objects.all()
    serializer_class = WaveSerializer
    filterset_fields = ["masterplan", "status"]
