from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from execution.models import MasterPlan
from execution.tests.test_masterplan_format import MINIMAL, replace_in


@pytest.mark.django_db
def test_pages_send_anonymous_visitors_to_the_login(client, imported):
    masterplan = imported("slugkit")
    for url in ["/", f"/masterplans/{masterplan.pk}/", "/masterplans/new/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_list_shows_every_masterplan_with_status_progress_and_budget(client, viewer, imported):
    for name in ("slugkit", "typed-event-bus", "inventory-service"):
        imported(name)
    client.force_login(viewer)
    page = client.get("/").content.decode()
    for name in ("slugkit", "typed-event-bus", "inventory-service"):
        assert name in page
    assert page.count('class="budget-bar') == 3
    assert "0/9" in page  # inventory-service: no atom completed yet
    assert "Upload a masterplan" not in page  # a viewer cannot import


@pytest.mark.django_db
def test_detail_shows_requirements_waves_tree_and_atoms(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    assert "Wave 4" in page
    assert "MUST" in page and "SHOULD" in page
    assert "slugkit/unique.py" in page
    assert "Character folding" in page
    assert 'action="/masterplans/' not in page  # no delete button for a viewer


@pytest.mark.django_db
def test_atoms_table_filters_by_status_as_an_htmx_partial(client, viewer, imported):
    masterplan = imported("slugkit")
    masterplan.atoms.filter(name="slugify").update(status="failed", last_error="SyntaxError")
    client.force_login(viewer)
    response = client.get(
        f"/masterplans/{masterplan.pk}/",
        {"status": "failed"},
        headers={"HX-Request": "true", "HX-Target": "atoms"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="atoms">')  # the partial only, not the page
    assert "slugify" in html and "SyntaxError" in html
    assert ">fold_accents</td>" not in html


@pytest.mark.django_db
def test_a_viewer_cannot_open_the_upload_form(client, viewer):
    client.force_login(viewer)
    assert client.get("/masterplans/new/").status_code == 403


@pytest.mark.django_db
def test_upload_form_imports_a_file_and_redirects_to_the_plan(client, reviewer, example_text):
    client.force_login(reviewer)
    upload = SimpleUploadedFile("slugkit.md", example_text("slugkit").encode())
    response = client.post("/masterplans/new/", {"file": upload})
    masterplan = MasterPlan.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/masterplans/{masterplan.pk}/"


@pytest.mark.django_db
def test_upload_form_over_htmx_answers_with_a_client_redirect(client, reviewer):
    client.force_login(reviewer)
    response = client.post(
        "/masterplans/new/", {"document": MINIMAL}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/masterplans/{MasterPlan.objects.get().pk}/"


@pytest.mark.django_db
def test_upload_form_lists_the_problems_with_lines_and_saves_nothing(client, reviewer):
    client.force_login(reviewer)
    document = replace_in(MINIMAL, "depends_on: [a]", "depends_on: [ghost]")
    response = client.post(
        "/masterplans/new/", {"document": document}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "line 21: atom &#x27;b&#x27; depends on unknown atom &#x27;ghost&#x27;" in html
    assert 'id="upload-form"' in html and "<html" not in html
    assert not MasterPlan.objects.exists()


@pytest.mark.django_db
def test_upload_form_needs_a_file_or_a_document(client, reviewer):
    client.force_login(reviewer)
    response = client.post("/masterplans/new/", {})
    assert response.status_code == 422
    assert "Choose a file or paste a document" in response.content.decode()


@pytest.mark.django_db
def test_document_download_is_the_exported_masterplan(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    response = client.get(f"/masterplans/{masterplan.pk}/document/")
    assert response["Content-Type"].startswith("text/markdown")
    assert response.content.decode().startswith("---\nname: slugkit\n")


@pytest.mark.django_db
def test_a_reviewer_deletes_from_the_detail_page(client, reviewer, imported):
    masterplan = imported("slugkit")
    client.force_login(reviewer)
    response = client.post(f"/masterplans/{masterplan.pk}/delete/")
    assert response.status_code == 302
    assert not MasterPlan.objects.exists()


@pytest.mark.django_db
def test_unknown_masterplan_page_is_404(client, viewer):
    client.force_login(viewer)
    assert client.get("/masterplans/00000000-0000-0000-0000-000000000000/").status_code == 404


@pytest.mark.django_db
def test_requirement_code_spans_render_as_code_and_html_stays_escaped(client, viewer):
    from execution.actions import import_masterplan

    document = replace_in(
        MINIMAL,
        "Some prose.",
        "## Requirements\n### MUST\n- `f()` MUST return `<b>` <script>x</script>\n",
    )
    masterplan = import_masterplan(document)
    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    assert "<code>f()</code> MUST return <code>&lt;b&gt;</code> &lt;script&gt;" in page
    assert "<script>x</script>" not in page


@pytest.mark.django_db
def test_the_file_viewer_stays_inside_the_workspace(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    url = f"/masterplans/{masterplan.pk}/files/"
    escape = client.get(url, {"path": "../../../etc/passwd"})
    assert escape.status_code == 400
    assert b"must not leave the workspace" in escape.content
    assert client.get(url, {"path": "slugkit/absent.py"}).status_code == 404


@pytest.mark.django_db
def test_control_buttons_need_the_reviewer_role(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    page = client.get(f"/masterplans/{masterplan.pk}/").content.decode()
    assert "control start" not in page
    assert client.post(f"/masterplans/{masterplan.pk}/start/").status_code == 403
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.READY


@pytest.mark.django_db
def test_a_refused_action_is_explained_on_the_page(client, reviewer, imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.COMPLETED)
    client.force_login(reviewer)
    response = client.post(f"/masterplans/{masterplan.pk}/start/", follow=True)
    assert (
        "cannot start masterplan &#x27;slugkit&#x27;: it is completed" in response.content.decode()
    )


@pytest.mark.django_db
def test_the_list_updates_itself_fast_while_a_plan_runs(client, viewer, imported):
    masterplan = imported("slugkit")
    client.force_login(viewer)
    idle = client.get("/").content.decode()
    assert 'id="list-live"' in idle and 'hx-trigger="every 10s"' in idle
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    polled = client.get("/", headers={"HX-Request": "true", "HX-Target": "list-live"})
    body = polled.content.decode()
    assert '<div id="list-live"' in body
    assert 'hx-trigger="every 2s"' in body and "<html" not in body
    assert "running" in body and "slugkit" in body
