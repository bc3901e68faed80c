"""Requirements, read-only (they are created by the masterplan import)."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from acceptance.models import Requirement


class RequirementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requirement
        fields = ["id", "masterplan", "text", "priority", "source_line", "position"]


class RequirementViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Requirement.objects.all()
    serializer_class = RequirementSerializer
    filterset_fields = ["masterplan", "priority"]
