"""GET /api/v2/dependency/graph/{masterplan_id}: the atom graph — atoms by wave, the
declared dependencies and those read from the generated code, and the ones against the
wave order (execution.dependencies.atom_graph)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from execution.api.runs import requires
from execution.dependencies.atom_graph import atom_graph
from execution.models import MasterPlan


class DependencyGraphView(APIView):
    permission_classes = [IsAuthenticated, requires("execution.view_masterplan")]

    @extend_schema(
        responses={
            200: OpenApiResponse(
                description="waves (number, atom ids), atoms (id, name, file_path, wave, "
                "status), edges (atom, depends_on, kind, line, declared, against_wave_order)"
            )
        }
    )
    def get(self, request: Request, masterplan_id: str) -> Response:
        try:
            masterplan = MasterPlan.objects.get(pk=masterplan_id)
        except MasterPlan.DoesNotExist:
            raise NotFound(f"No masterplan with the id {masterplan_id}.") from None
        return Response(atom_graph(masterplan).as_json())
