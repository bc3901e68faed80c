from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from acceptance.models import Requirement
from execution.actions import import_masterplan
from execution.document.export import export_masterplan
from execution.document.format import MasterPlanFormatError, parse_masterplan
from execution.models import Atom, AtomDependency, MasterPlan, Milestone, Phase, Task, Wave
from execution.tests.test_masterplan_format import EXAMPLES, MINIMAL, replace_in

DOMAIN_MODELS = [MasterPlan, Phase, Milestone, Task, Atom, AtomDependency, Wave, Requirement]

BAD_DOCUMENTS = {
    "unknown dependency": (
        replace_in(MINIMAL, "depends_on: [a]", "depends_on: [ghost]"),
        "line 21: atom 'b' depends on unknown atom 'ghost'",
    ),
    "duplicate atom": (
        replace_in(MINIMAL, "- name: b\n", "- name: a\n"),
        "duplicate atom name 'a'",
    ),
    "escaping path": (
        replace_in(MINIMAL, "file: pkg/a.py", "file: ../../etc/evil.py"),
        "must not leave the workspace",
    ),
    "absolute path": (
        replace_in(MINIMAL, "file: pkg/a.py", "file: /tmp/evil.py"),
        "must be relative to the workspace",
    ),
    "unsupported language": (
        replace_in(MINIMAL, "file: pkg/a.py", "file: pkg/a.go"),
        "unsupported file type '.go'",
    ),
    "invalid yaml": (replace_in(MINIMAL, "spec: Define a().", "spec: [oops"), "invalid YAML"),
    "oversize": (MINIMAL + "#" * (1024 * 1024 + 1), "limit is 1,048,576 bytes"),
    "cycle": (
        replace_in(MINIMAL, "spec: Define a().", "depends_on: [b]\n                spec: x"),
        "dependency cycle: a → b → a",
    ),
    "requirement outside a list": (
        replace_in(MINIMAL, "Some prose.", "## Requirements\n- floating requirement\n"),
        "not under a '### MUST' or '### SHOULD' list",
    ),
}


def domain_row_counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in DOMAIN_MODELS}


def wave_number(atom: Atom) -> int:
    assert atom.wave is not None, atom.name
    return atom.wave.number


NO_ROWS = {model.__name__: 0 for model in DOMAIN_MODELS}


@pytest.mark.django_db
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_import_creates_the_tree_waves_and_requirements(example_text, name):
    document = parse_masterplan(example_text(name))
    masterplan = import_masterplan(example_text(name))

    atoms = {atom.name: atom for atom in masterplan.atoms.select_related("wave")}
    assert set(atoms) == {atom.name for atom in document.atoms}
    assert masterplan.status == MasterPlan.Status.READY
    assert masterplan.budget_hard_cap_usd == document.hard_cap_usd
    for spec in document.atoms:
        declared = {
            dependency.depends_on.name
            for dependency in atoms[spec.name].dependencies.select_related("depends_on")
        }
        assert declared == set(spec.depends_on)
        # A wave only holds atoms whose dependencies sit in earlier waves.
        for dependency in spec.depends_on:
            assert wave_number(atoms[dependency]) < wave_number(atoms[spec.name])
    assert sum(wave.atom_count for wave in masterplan.waves.all()) == len(atoms)
    requirements = masterplan.requirements.all()
    assert {requirement.priority for requirement in requirements} == {"must", "should"}


@pytest.mark.django_db
@pytest.mark.parametrize("name", EXAMPLES)
def test_export_then_import_round_trips_each_example(example_text, name):
    first = import_masterplan(example_text(name))
    second = import_masterplan(export_masterplan(first))

    def shape(masterplan: MasterPlan) -> dict[str, object]:
        return {
            "caps": (masterplan.budget_soft_cap_usd, masterplan.budget_hard_cap_usd),
            "options": masterplan.options,
            "atoms": sorted(
                (
                    atom.name,
                    atom.file_path,
                    atom.language,
                    atom.complexity,
                    atom.description,
                    wave_number(atom),
                    tuple(sorted(d.depends_on.name for d in atom.dependencies.all())),
                )
                for atom in masterplan.atoms.select_related("wave").prefetch_related(
                    "dependencies__depends_on"
                )
            ),
            "tree": [
                (phase.name, [m.name for m in phase.milestones.all()])
                for phase in masterplan.phases.all()
            ],
            "requirements": [(r.priority, r.text) for r in masterplan.requirements.all()],
        }

    assert shape(second) == shape(first)


@pytest.mark.django_db
def test_masterplan_gets_its_own_workspace_path(settings):
    masterplan = import_masterplan(MINIMAL)
    assert masterplan.workspace_path == str(settings.MGE_WORKSPACE_ROOT / str(masterplan.pk))


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_document_over_the_api_gets_400_naming_the_problem_and_leaves_no_rows(
    api_client_for, reviewer, case
):
    document, expected = BAD_DOCUMENTS[case]
    response = api_client_for(reviewer).post(
        "/api/v2/masterplans/", {"document": document}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert expected in body["detail"]
    assert any(expected in message for message in body["errors"]["document"])
    assert body["problems"] and all({"line", "message"} <= set(p) for p in body["problems"])
    assert domain_row_counts() == NO_ROWS


@pytest.mark.django_db
def test_import_over_the_api_as_json_and_as_multipart_file(api_client_for, reviewer, example_text):
    client = api_client_for(reviewer)
    as_json = client.post(
        "/api/v2/masterplans/", {"document": example_text("slugkit")}, format="json"
    )
    assert as_json.status_code == 201, as_json.content
    assert as_json.json()["name"] == "slugkit"
    assert as_json.json()["requirement_count"] == {"must": 5, "should": 2}

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("bus.md", example_text("typed-event-bus").encode(), "text/markdown")
    as_file = client.post("/api/v2/masterplans/", {"file": upload}, format="multipart")
    assert as_file.status_code == 201, as_file.content
    assert as_file.json()["atom_total"] == 5
    created = as_file.json()["id"]
    assert MasterPlan.objects.get(pk=created).created_by == reviewer


@pytest.mark.django_db
def test_import_needs_exactly_one_of_document_and_file(api_client_for, reviewer):
    client = api_client_for(reviewer)
    neither = client.post("/api/v2/masterplans/", {}, format="json")
    assert neither.status_code == 400
    assert neither.json()["detail"] == (
        "Send the masterplan document as 'document' (its text) or as 'file' (an upload)."
    )


@pytest.mark.django_db
def test_non_utf8_upload_is_refused_with_a_clear_message(api_client_for, reviewer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("plan.md", "name: café".encode("latin-1"))
    response = api_client_for(reviewer).post("/api/v2/masterplans/", {"file": upload})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "file: The file is not UTF-8 text; save the masterplan as UTF-8.",
        "errors": {"file": ["The file is not UTF-8 text; save the masterplan as UTF-8."]},
    }


@pytest.mark.django_db
def test_cli_import_prints_the_id_or_json(tmp_path, capsys):
    path = tmp_path / "tiny.md"
    path.write_text(MINIMAL)
    call_command("mge", "import", str(path))
    plain_id = capsys.readouterr().out.strip()
    call_command("mge", "import", str(path), "--json")
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"masterplan_id"}
    assert MasterPlan.objects.filter(pk__in=[plain_id, printed["masterplan_id"]]).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_cli_import_of_a_bad_document_exits_2_naming_file_and_line(tmp_path, case):
    document, expected = BAD_DOCUMENTS[case]
    path = tmp_path / "bad.md"
    path.write_text(document)
    with pytest.raises(CommandError) as raised:
        call_command("mge", "import", str(path))
    assert raised.value.returncode == 2
    assert expected in str(raised.value)
    assert f"{path}:" in str(raised.value)
    assert domain_row_counts() == NO_ROWS


@pytest.mark.django_db
def test_cli_import_of_a_missing_file_exits_2(tmp_path):
    with pytest.raises(CommandError, match="no such file") as raised:
        call_command("mge", "import", str(tmp_path / "absent.md"))
    assert raised.value.returncode == 2


@pytest.mark.django_db
def test_cli_export_of_an_unknown_id_exits_2():
    with pytest.raises(CommandError, match="no masterplan with id 'nope'") as raised:
        call_command("mge", "export", "nope")
    assert raised.value.returncode == 2


@pytest.mark.django_db
def test_load_examples_loads_each_example_once(capsys):
    call_command("mge", "load-examples")
    call_command("mge", "load-examples")
    assert sorted(MasterPlan.objects.values_list("name", flat=True)) == sorted(EXAMPLES)
    assert capsys.readouterr().out.count("already loaded") == 3


@pytest.mark.django_db
def test_a_failing_import_hook_rolls_back_everything(example_text):
    # The requirements hook runs after the tree is written: its refusal must undo all of it.
    document = replace_in(example_text("slugkit"), "### SHOULD", "### COULD")
    with pytest.raises(MasterPlanFormatError, match="use '### MUST' or '### SHOULD'"):
        import_masterplan(document)
    assert domain_row_counts() == NO_ROWS


@pytest.mark.django_db
@pytest.mark.parametrize(
    "requirements",
    [
        "requirements:\n  must:\n    - The API MUST answer in JSON\n"
        "  should:\n    - Pages load fast\n",
        "requirements:\n  - The API MUST answer in JSON\n  - Errors SHOULD name the field\n",
    ],
)
def test_front_matter_requirements_survive_an_export_round_trip(requirements):
    from execution.tests.test_masterplan_format import MINIMAL

    text = MINIMAL.replace("name: tiny\n", f"name: tiny\n{requirements}")
    first = import_masterplan(text)
    second = import_masterplan(export_masterplan(first))

    def listed(masterplan: MasterPlan) -> list[tuple[str, str]]:
        return list(masterplan.requirements.values_list("text", "priority"))

    assert listed(second) == listed(first) and len(listed(first)) == 2
