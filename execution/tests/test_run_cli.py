from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from conftest import engine_db
from execution.models import MasterPlan


@engine_db
def test_run_a_file_inline_and_wait_draws_waves_and_ends_completed(fast_offline, capsys):
    call_command("mge", "run", "examples/slugkit.md", "--inline", "--wait")
    out = capsys.readouterr().out
    assert "Started slugkit" in out
    assert "wave   4 [##############################] 1/1 completed" in out
    assert out.rstrip().endswith("slugkit: completed.")
    assert MasterPlan.objects.get(name="slugkit").status == MasterPlan.Status.COMPLETED


@engine_db
def test_run_exits_1_when_the_plan_fails(imported, stub_server, capsys):
    stub_server.configure(failing_atoms={"event_types": 400})
    masterplan = imported("typed-event-bus")
    with pytest.raises(CommandError, match="ended failed") as raised:
        call_command("mge", "run", str(masterplan.pk), "--inline")
    assert raised.value.returncode == 1
    assert "typed-event-bus: failed. 1 atom failed (event_types)" in capsys.readouterr().out


@engine_db
def test_run_exits_1_saying_why_when_the_plan_waits_for_its_provider(
    imported, stub_server, capsys, settings
):
    settings.MGE_LLM_PROVIDER_RETRIES = 1
    stub_server.configure(down_status=503)
    masterplan = imported("slugkit")
    with pytest.raises(CommandError, match="stopped, paused_provider") as raised:
        call_command("mge", "run", str(masterplan.pk), "--inline")
    assert raised.value.returncode == 1
    assert "slugkit: paused_provider. Paused: the provider has not answered" in (
        capsys.readouterr().out
    )


@pytest.mark.django_db
def test_run_refuses_a_completed_plan_with_exit_2(imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.COMPLETED)
    with pytest.raises(CommandError, match="it is completed") as raised:
        call_command("mge", "run", str(masterplan.pk))
    assert raised.value.returncode == 2


@pytest.mark.django_db
def test_run_names_a_target_that_is_neither_id_nor_file():
    with pytest.raises(CommandError, match="neither a masterplan id nor a document file") as raised:
        call_command("mge", "run", "no-such-thing")
    assert raised.value.returncode == 2
