"""Plans paused because their provider stopped answering (`paused_provider`) go on once
it answers again: the scheduler asks the provider about each model they still need —
a free request (the model's description), no tokens — and resumes the plans whose
models all answered."""

from __future__ import annotations

import logging

from execution.llm import gateway
from execution.llm.types import LLMError
from execution.models import Atom, MasterPlan
from execution.runtime import lifecycle
from execution.runtime.jobs import Backpressure, QueueUnavailable

logger = logging.getLogger(__name__)


def resume_plans_the_provider_answers() -> list[str]:
    """Probe, resume; returns the ids of the plans resumed."""
    atoms = (
        Atom.objects.filter(
            masterplan__status=MasterPlan.Status.PAUSED_PROVIDER, status__in=Atom.RUNNABLE_STATUSES
        )
        .select_related("masterplan")
        .only("complexity", "masterplan__default_model")
    )
    needs = {(str(atom.masterplan_id), atom.model_name) for atom in atoms}
    paused = {
        str(pk)
        for pk in MasterPlan.objects.filter(status=MasterPlan.Status.PAUSED_PROVIDER).values_list(
            "pk", flat=True
        )
    }
    down: set[str] = set()
    for model in sorted({model for _, model in needs}):
        try:
            gateway.get_provider().probe(model)
        except LLMError as error:
            logger.info("the provider still does not answer for %s: %s", model, error)
            down.add(model)
    waiting = {plan for plan, model in needs if model in down}
    resumed = []
    for plan in sorted(paused - waiting):
        try:
            if lifecycle.resume_after_probe(plan) is not None:
                resumed.append(plan)
        except (QueueUnavailable, Backpressure) as error:
            logger.warning("could not resume %s yet: %s", plan, error)
    return resumed
