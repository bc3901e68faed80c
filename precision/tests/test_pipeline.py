"""The precision check after each wave and at the end of a plan, with the offline
provider's code, the acceptance tests and L4 in the real sandbox, drained by a real RQ
worker."""

from __future__ import annotations

import pytest

from conftest import engine_db
from execution.models import MasterPlan, WaveCheck
from execution.runtime.lifecycle import start_masterplan
from precision.models import PrecisionSnapshot, ValidationRun


@pytest.fixture
def precision_after_waves(settings, fast_offline):
    settings.MGE_PRECISION_AFTER_WAVES = True


@engine_db
def test_every_wave_is_validated_and_the_last_one_at_every_level(
    precision_after_waves, settings, imported, run_jobs
):
    settings.MGE_ACCEPTANCE_AFTER_WAVES = True
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED, masterplan.status_reason
    waves = list(masterplan.waves.order_by("number"))
    runs = list(ValidationRun.objects.filter(masterplan=masterplan).order_by("created_at"))
    assert [run.wave for run in runs] == waves
    assert [run.levels for run in runs] == [[1, 2, 3]] * (len(waves) - 1) + [[1, 2, 3, 4]]
    final = runs[-1]
    assert final.isolation.startswith("bwrap")
    assert final.tools["ruff"] and final.tools["python"]
    assert not final.checks.filter(passed=False).exists(), list(
        final.checks.filter(passed=False).values_list("file", "message")
    )
    assert final.checks.filter(level=4, category="build").exists()
    # The offline provider's code passes every test and every check: a perfect score, and
    # every component had something to count.
    latest = PrecisionSnapshot.objects.filter(masterplan=masterplan).latest("created_at")
    assert latest.run == final
    assert latest.score == pytest.approx(1.0)
    assert latest.no_data == []
    assert latest.counts["spec_conformance"]["must"] == {"total": 5, "passed": 5}
    # Each wave's precision check read that wave's acceptance results: it was queued after
    # the acceptance check decided.
    for wave in waves:
        rows = {row.check_name: row for row in WaveCheck.objects.filter(wave=wave)}
        assert rows["precision"].state == WaveCheck.State.PASSED
        decided = rows["acceptance"].decided_at
        assert decided is not None and rows["precision"].queued_at >= decided


@engine_db
def test_a_score_below_min_precision_ends_the_plan_gate_failed(
    precision_after_waves, imported, example_text, run_jobs
):
    from execution.actions import import_masterplan

    document = example_text("slugkit").replace(
        "  enforce_gate_per_wave: false\n",
        "  enforce_gate_per_wave: false\n  min_precision: 0.99\n",
    )
    masterplan = import_masterplan(document)
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    # No acceptance tests ran (their check is off): every requirement counts as not passing.
    assert masterplan.status == MasterPlan.Status.GATE_FAILED
    assert masterplan.status_reason.startswith(
        "The precision score 50.0% is below the plan's min_precision 99.0%"
    )


@engine_db
def test_the_engine_feeds_a_forbidden_construct_back_and_the_next_answer_is_kept(
    imported, stub_server, run_jobs
):
    from execution.models import Atom

    eval_answer = "```python\ndef fold_accents(text: str) -> str:\n    return eval('text')\n```"
    stub_server.configure(atom_texts={"fold_accents": [eval_answer]})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    fold = masterplan.atoms.get(name="fold_accents")
    assert fold.status == Atom.Status.COMPLETED and fold.attempts == 2
    assert "eval" not in fold.generated_code
    prompt = stub_server.stats.last_prompt_by_atom["fold_accents"]
    assert "attempt 1: slugkit/folding.py uses forbidden constructs (line 2: `eval()`" in prompt
