"""The offline provider's stand-in code (no stored answer for a file) is marked as such on
the atom, the plan, the pages and the API: it must never read as generated code."""

from __future__ import annotations

import pytest

from conftest import engine_db
from execution.actions import import_masterplan
from execution.models import Atom, MasterPlan
from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_masterplan_format import MINIMAL


@engine_db
def test_a_plan_the_offline_provider_has_no_answers_for_is_marked_placeholder(
    fast_offline, run_jobs, client, viewer, api_client_for
):
    masterplan = import_masterplan(MINIMAL)
    start_masterplan(masterplan.pk)
    run_jobs()

    atoms = list(masterplan.atoms.all())
    assert {atom.status for atom in atoms} == {Atom.Status.COMPLETED}
    assert all(atom.placeholder for atom in atoms)
    api = api_client_for(viewer)
    detail = api.get(f"/api/v2/masterplans/{masterplan.pk}/").json()
    assert detail["atom_placeholders"] == 2
    assert {atom["placeholder"] for atom in api.get("/api/v2/atoms/").json()["results"]} == {True}

    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    assert "2 atoms hold an offline placeholder — not generated code" in page
    assert page.count(">offline placeholder</span>") == 2


@engine_db
def test_an_example_with_stored_answers_has_no_placeholder(
    imported, fast_offline, run_jobs, client, viewer
):
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert not masterplan.atoms.filter(placeholder=True).exists()
    client.force_login(viewer)
    assert (
        "offline placeholder" not in client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    )


@pytest.mark.django_db
def test_a_placeholder_is_never_kept_in_the_response_cache(fast_offline, settings):
    from caching.llm_cache import cache_key, lookup
    from execution.llm import gateway
    from execution.llm.prompts import atom_prompt
    from execution.llm.types import LLMRequest

    request = LLMRequest(
        model="claude-haiku-4-5",
        system="system",
        messages=[
            {
                "role": "user",
                "content": atom_prompt(
                    masterplan_name="tiny",
                    atom_name="a",
                    file_path="pkg/a.py",
                    language="python",
                    spec="Define a().",
                    context=[],
                    previous_errors=[],
                ),
            }
        ],  # fmt: skip
        max_tokens=1000,
    )
    response = gateway.complete(request)
    assert response.placeholder
    assert lookup(cache_key(request, gateway.get_provider().name)) is None
