"""After each wave the generated code's imports are read: undeclared edges between atoms
are added, one against the wave order fails the check; the API and the page show them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import engine_db
from execution.actions import import_masterplan
from execution.models import Atom, AtomDependency, MasterPlan, WaveCheck
from execution.runtime.dependency_check import after_wave
from execution.runtime.lifecycle import start_masterplan

DOCUMENT = """---
name: layered
language: python
---

## Plan

```yaml
phases:
  - name: P
    milestones:
      - name: M
        tasks:
          - name: T
            atoms:
              - name: base
                file: layered/base.py
                spec: Define base().
              - name: mid
                file: layered/mid.py
                depends_on: [base]
                spec: Define mid().
              - name: top
                file: layered/top.py
                depends_on: [mid]
                spec: Define top().
              - name: side
                file: layered/side.py
                spec: Define side().
```
"""


def written(code: dict[str, str]) -> MasterPlan:
    masterplan = import_masterplan(DOCUMENT)
    root = Path(masterplan.workspace_path)
    for path, text in {"layered/__init__.py": "", **code}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    masterplan.atoms.update(status=Atom.Status.COMPLETED)
    return masterplan


def last_wave(masterplan: MasterPlan):  # type: ignore[no-untyped-def]
    return masterplan.waves.order_by("number").last()


@pytest.mark.django_db
def test_an_undeclared_import_in_the_wave_order_is_added_and_passes():
    masterplan = written({
        "layered/base.py": "def base():\n    return 1\n",
        "layered/mid.py": "from layered.base import base\n",
        "layered/top.py": "from layered.mid import mid\nfrom layered import base\n",
        "layered/side.py": "",
    })  # fmt: skip
    verdict = after_wave(last_wave(masterplan))
    assert verdict.passed is True
    assert "1 not declared, added" in verdict.reason
    detected = AtomDependency.objects.get(atom__name="top", depends_on__name="base")
    assert (detected.kind, detected.line) == (AtomDependency.Kind.IMPORT, 2)
    after_wave(last_wave(masterplan))  # asked again: nothing added twice
    assert AtomDependency.objects.filter(masterplan=masterplan).count() == 3


@pytest.mark.django_db
def test_an_import_against_the_wave_order_fails_the_check_naming_it(client, viewer, api_client_for):
    masterplan = written({
        "layered/base.py": "from layered.top import top\n",  # wave 1 imports wave 3
        "layered/mid.py": "from layered.base import base\n",
        "layered/top.py": "", "layered/side.py": "import layered.base\n",  # same wave
    })  # fmt: skip
    verdict = after_wave(last_wave(masterplan))
    assert verdict.passed is False
    assert verdict.reason.startswith("Imports against the wave order: ")
    assert "base (wave 1) imports top (wave 3) at layered/base.py:1, and ran before it" in (
        verdict.reason
    )
    assert "side (wave 1) imports base (wave 1) at layered/side.py:1, and ran in the same wave" in (
        verdict.reason
    )
    assert verdict.reason.endswith("Declare them with depends_on in the document.")

    body = api_client_for(viewer).get(f"/api/v2/dependency/graph/{masterplan.pk}").json()
    assert (body["detected"], body["against_wave_order"]) == (2, 2)
    names = {atom["id"]: atom["name"] for atom in body["atoms"]}
    edges = {(names[edge["atom"]], names[edge["depends_on"]]): edge for edge in body["edges"]}
    wrong = edges[("base", "top")]
    assert {key: wrong[key] for key in ("kind", "line", "declared", "against_wave_order")} == {
        "kind": "import", "line": 1, "declared": False, "against_wave_order": True,
    }  # fmt: skip
    assert edges[("mid", "base")]["declared"] is True
    assert [wave["number"] for wave in body["waves"]] == [1, 2, 3]

    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/dependencies/").content.decode()
    assert len(re.findall(r'<line class="edge against"', page)) == 2
    assert len(re.findall(r'<line class="edge declared"', page)) == 2
    assert "4 dependencies · 2 read from the code · 2 against the wave order" in page


@pytest.mark.django_db
def test_the_graph_endpoint_names_an_unknown_plan_and_reads_in_few_queries(
    api_client_for, viewer, imported, django_assert_max_num_queries
):
    client = api_client_for(viewer)
    missing = "00000000-0000-0000-0000-000000000000"
    response = client.get(f"/api/v2/dependency/graph/{missing}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No masterplan with the id {missing}."
    masterplan = imported("inventory-service")
    with django_assert_max_num_queries(8):  # auth, the plan, its atoms, its dependencies
        body = client.get(f"/api/v2/dependency/graph/{masterplan.pk}").json()
    assert len(body["atoms"]) == masterplan.atoms.count()


@engine_db
@pytest.mark.parametrize("example", ["slugkit", "typed-event-bus", "inventory-service"])
def test_a_run_reads_the_imports_after_each_wave_and_completes(
    imported, fast_offline, run_jobs, settings, example
):
    # The examples' code imports only what their documents declare, or earlier waves.
    settings.MGE_DEPENDENCIES_AFTER_WAVES = True
    masterplan = imported(example)
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    rows = WaveCheck.objects.filter(masterplan=masterplan, check_name="dependencies")
    assert rows.count() == masterplan.waves.filter(atom_count__gt=0).count()
    assert set(rows.values_list("state", flat=True)) == {WaveCheck.State.PASSED}
    assert "imports in" in rows.order_by("wave__number").last().reason  # type: ignore[union-attr]
