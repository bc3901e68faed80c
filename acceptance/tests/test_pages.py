"""The acceptance page, its buttons, and the gate badge on the list and detail pages."""

from __future__ import annotations

import pytest

from acceptance.models import AcceptanceTest, TestResult, TestRun
from execution.models import MasterPlan


@pytest.fixture
def slugkit_results(imported):
    masterplan = imported("slugkit")
    run = TestRun.objects.create(masterplan=masterplan, status="finished", isolation="bwrap")
    for requirement in masterplan.requirements.all():
        test = AcceptanceTest.objects.create(
            masterplan=masterplan, requirement=requirement, framework="pytest",
            generated_by="llm",
            file_path=f"tests/acceptance/test_r{requirement.position + 1:02d}.py",
            code="def test_it():\n    assert slugify('a b') == 'a-b'\n",
        )  # fmt: skip
        failed = requirement.position == 0
        TestResult.objects.create(
            run=run, test=test, status="failed" if failed else "passed", duration_s=0.25,
            message="AssertionError: 'a_b' != 'a-b'" if failed else "",
            trace="Traceback (most recent call last): …" if failed else "",
        )  # fmt: skip
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.GATE_FAILED)
    masterplan.refresh_from_db()
    return masterplan


@pytest.mark.django_db
def test_the_page_shows_requirements_tests_results_and_the_blocked_gate(
    client, viewer, slugkit_results
):
    client.force_login(viewer)
    page = client.get(f"/masterplans/{slugkit_results.pk}/acceptance/").content.decode()
    assert "gate blocked" in page
    assert "1 of 5 MUST tests do not pass" in page
    assert page.count('data-testid="result"') == 7
    assert "AssertionError: &#x27;a_b&#x27; != &#x27;a-b&#x27;" in page
    assert "tests/acceptance/test_r01.py" in page and "assert slugify" in page
    assert "Generate tests" not in page  # a viewer only reads
    listing = client.get("/").content.decode()
    assert "gate blocked" in listing
    detail = client.get(f"/masterplans/{slugkit_results.pk}/").content.decode()
    assert "gate blocked" in detail and "/acceptance/" in detail


@pytest.mark.django_db
def test_a_reviewer_queues_generation_and_runs_from_the_page(client, reviewer, slugkit_results):
    client.force_login(reviewer)
    page = client.get(f"/masterplans/{slugkit_results.pk}/acceptance/").content.decode()
    assert "Regenerate tests" in page and "Run tests" in page
    response = client.post(f"/masterplans/{slugkit_results.pk}/acceptance/run/", follow=True)
    assert "Test run queued" in response.content.decode()
    assert slugkit_results.test_runs.filter(status="queued").count() == 1
    again = client.post(f"/masterplans/{slugkit_results.pk}/acceptance/run/", follow=True)
    assert "already queued or running" in again.content.decode()
    assert slugkit_results.test_runs.filter(status="queued").count() == 1
    url = f"/masterplans/{slugkit_results.pk}/acceptance/generate/"
    assert "No code has been generated yet" in client.post(url, follow=True).content.decode()
    slugkit_results.atoms.filter(pk=slugkit_results.atoms.first().pk).update(status="completed")
    assert "regenerate once it ends" in client.post(url, follow=True).content.decode()
    slugkit_results.test_runs.update(status="finished")
    assert "Test generation queued" in client.post(url, follow=True).content.decode()


@pytest.mark.django_db
def test_viewers_cannot_generate_or_run(client, viewer, slugkit_results):
    client.force_login(viewer)
    for action in ("generate", "run"):
        url = f"/masterplans/{slugkit_results.pk}/acceptance/{action}/"
        assert client.post(url).status_code == 403
    assert not slugkit_results.test_runs.filter(status="queued").exists()


@pytest.mark.django_db
def test_a_plan_that_never_ran_reads_not_run_yet_not_blocked(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    for url in ("/", f"/masterplans/{masterplan.pk}/"):
        page = client.get(url).content.decode()
        assert ">not run yet</a>" in page and "gate blocked" not in page, url
