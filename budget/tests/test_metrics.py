from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from django.conf import settings

from budget.models import CostEntry
from execution.models import MasterPlan
from mge_site.testing import in_ci

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and not in_ci(),
    reason="promtool (Debian package prometheus) is not installed; make test installs it",
)
RULES = settings.BASE_DIR / "deploy" / "prometheus"


@pytest.mark.django_db
def test_metrics_carry_spend_caps_flags_and_the_atom_cost_histogram(client, imported):
    masterplan = imported("slugkit")  # soft 3.5, hard 5
    atom = masterplan.atoms.first()
    CostEntry.objects.create(
        masterplan=masterplan, atom=atom, model="gpt-4", cost_usd=Decimal("4"), reservation_id="r"
    )
    type(atom).objects.filter(pk=atom.pk).update(cost_usd=Decimal("4"))
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED_BUDGET)

    text = client.get("/metrics").content.decode()
    label = f'{{masterplan_id="{masterplan.pk}"}}'
    assert f"v2_cost_per_project_usd{label} 4.0" in text
    assert f"v2_budget_soft_cap_usd{label} 3.5" in text
    assert f"v2_budget_hard_cap_usd{label} 5.0" in text
    assert f"v2_budget_warning{label} 1.0" in text
    assert f"v2_budget_critical{label} 1.0" in text
    assert 'v2_cost_per_atom_usd_bucket{le="1.0"} 0.0' in text
    assert 'v2_cost_per_atom_usd_bucket{le="5.0"} 1.0' in text
    assert "v2_cost_per_atom_usd_sum 4.0" in text


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL or "promtool", *args], capture_output=True, text=True)


@needs_promtool
def test_the_alert_rules_are_valid():
    checked = promtool("check", "rules", str(RULES / "alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout  # two budget, one precision, one cache


@needs_promtool
def test_the_alerts_fire_on_the_seeds_conditions():
    tested = promtool("test", "rules", str(RULES / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
