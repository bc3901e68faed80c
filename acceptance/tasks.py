"""RQ entry points of the acceptance app: thin, they take ids."""

from __future__ import annotations

from typing import Any

from acceptance import pipeline
from acceptance.runs import execute_run


def classify_unclear(masterplan_id: str) -> int:
    return pipeline.classify_unclear(masterplan_id)


def generate(masterplan_id: str) -> dict[str, Any]:
    return pipeline.generate_once(masterplan_id, replace=True)


def run(run_id: str) -> dict[str, Any]:
    return pipeline.decide_after_run(execute_run(run_id))
