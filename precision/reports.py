"""The JSON shapes of validation runs, checks and scores: the API, the CLI and the page
show the same thing."""

from __future__ import annotations

from typing import Any

from execution.models import MasterPlan
from precision.models import PrecisionSnapshot, ValidationCheck, ValidationRun
from precision.scoring import TARGET, WEIGHTS


def check_json(check: ValidationCheck) -> dict[str, Any]:
    return {
        "level": check.level,
        "scope": check.scope,
        "category": check.category,
        "status": check.status,
        "passed": check.passed,
        "severity": check.severity or None,
        "file": check.file,
        "line": check.line,
        "message": check.message,
        "atom": check.atom.name if check.atom else None,
        "findings": check.findings,
    }


def run_json(run: ValidationRun) -> dict[str, Any]:
    return {
        "id": str(run.pk),
        "levels": run.levels,
        "status": run.status,
        "message": run.message,
        "files": run.files,
        "tools": run.tools,
        "isolation": run.isolation,
        "duration_s": round(run.duration_s, 3),
        "created_at": run.created_at.isoformat(),
    }


def snapshot_json(snapshot: PrecisionSnapshot) -> dict[str, Any]:
    """The score as the API, the CLI and the page show it."""
    return {
        "masterplan": str(snapshot.masterplan_id),
        "score": round(snapshot.score, 4),
        "spec_conformance": round(snapshot.spec_conformance, 4),
        "integration_pass": round(snapshot.integration_pass, 4),
        "validation_pass": round(snapshot.validation_pass, 4),
        "weights": WEIGHTS,
        "target": TARGET,
        "meets_target": snapshot.meets_target,
        "no_data": snapshot.no_data,
        "counts": snapshot.counts,
        "wave": snapshot.wave.number if snapshot.wave_id and snapshot.wave else None,
        "snapshot_at": snapshot.created_at.isoformat(),
    }


def not_scored_json(masterplan: MasterPlan) -> dict[str, Any]:
    return {
        "masterplan": str(masterplan.pk),
        "score": None,
        "spec_conformance": None,
        "integration_pass": None,
        "validation_pass": None,
        "weights": WEIGHTS,
        "target": TARGET,
        "meets_target": False,
        "no_data": ["spec_conformance", "integration_pass", "validation_pass"],
        "counts": None,
        "wave": None,
        "snapshot_at": None,
        "reason": "not validated yet: the score is taken after each wave, or on demand "
        f"(POST /api/v2/validation/masterplan/{masterplan.pk})",
    }
