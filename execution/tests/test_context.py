"""An atom's context: its dependencies' code, what the full-text search finds in the plan's
corpus, the completeness score, and the retrieval cache — on real PostgreSQL and Redis,
through the real SDK and the stub; the SQLite FTS5 search in a `manage.py` process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from redis import Redis

from caching import counters, retrieval
from conftest import engine_db
from execution.actions import import_masterplan
from execution.context.names import search_terms
from execution.models import Atom, ContextChunk
from execution.runtime.lifecycle import start_masterplan
from mge_site.redis_connection import get_redis
from tracing.models import TraceEvent

PLAN = """\
---
name: {name}
---
A tiny package.

## Plan

```yaml
phases:
  - name: P
    milestones:
      - name: M
        tasks:
          - name: T
            atoms:
              - name: a
                file: pkg/a.py
                spec: Define `a()` returning "a".
              - name: helper_text
                file: pkg/helper.py
                spec: Define `helper_text()` returning "h".
              - name: c
                file: pkg/c.py
                depends_on: [a]
                spec: Define `c()` returning `a()` followed by `helper_text()`.
```
"""


def run(name: str, run_jobs) -> Atom:  # type: ignore[no-untyped-def]
    masterplan = import_masterplan(PLAN.format(name=name))
    start_masterplan(masterplan.pk)
    run_jobs()
    return masterplan.atoms.get(name="c")


def context_event(atom: Atom) -> dict[str, Any]:
    data: dict[str, Any] = (
        TraceEvent.objects.filter(trace__atom=atom, kind="context_built").latest("seq").data
    )
    return data


def test_search_terms_are_the_words_both_databases_index():
    assert search_terms("Define `fold_accents(text)` using UniqueSlugger, a list.") == [
        "accents", "define", "fold", "list", "text", "uniqueslugger", "using",
    ]  # fmt: skip


@engine_db
def test_a_file_of_an_earlier_wave_defining_a_name_the_spec_mentions_is_in_the_prompt(
    stub_server, run_jobs
):
    atom = run("ctx", run_jobs)
    prompt = stub_server.stats.last_prompt_by_atom["c"]
    # Its declared dependency, whole; and the file defining helper_text, found by search.
    assert "### pkg/a.py" in prompt and "### pkg/helper.py" in prompt
    assert prompt.index("### pkg/a.py") < prompt.index("Other files of the code base")
    event = context_event(atom)
    assert event["names"] == ["a", "helper_text"] and event["names_found"] == ["a", "helper_text"]
    assert "file:pkg/helper.py" in event["retrieved"]
    assert atom.context_score == event["score"] == 1.0
    # Wave 1's atoms had nothing written before them: the plan's other specs only.
    first = Atom.objects.get(masterplan=atom.masterplan, name="helper_text")
    assert all(item.startswith("spec:") for item in context_event(first)["retrieved"])
    assert ContextChunk.objects.filter(masterplan=atom.masterplan, kind="file").count() == 2


@engine_db
def test_the_score_counts_what_the_context_missed(
    stub_server, run_jobs, settings, viewer, api_client_for, client
):
    settings.MGE_RETRIEVAL_CHUNKS = 0  # nothing retrieved: helper_text's file is missing
    atom = run("ctx-missing", run_jobs)
    assert "### pkg/helper.py" not in stub_server.stats.last_prompt_by_atom["c"]
    event = context_event(atom)
    assert event["names_found"] == ["a"]
    # One dependency held and one of two names: 2 of 3.
    assert atom.context_score == pytest.approx(2 / 3, abs=1e-4)
    shown = api_client_for(viewer).get(f"/api/v2/atoms/{atom.pk}/").json()
    assert shown["context_score"] == atom.context_score
    client.force_login(viewer)
    page = client.get(f"/masterplans/{atom.masterplan_id}/").content.decode()
    assert "67 %" in page  # c's score, in the atoms table


@engine_db
def test_the_same_document_run_again_finds_its_context_in_the_cache_and_asks_the_same(
    stub_server, run_jobs
):
    first = run("ctx-again", run_jobs)
    asked = stub_server.stats.requests
    second = run("ctx-again", run_jobs)  # another plan of the same document
    assert stub_server.stats.requests == asked  # every prompt was the same: all answered
    # Only c's spec mentions names other files define: one search a run.
    figures = counters.stats(retrieval.KIND, str(second.masterplan_id))
    assert (figures["hits"], figures["misses"]) == (1, 0)
    assert counters.stats(retrieval.KIND, str(first.masterplan_id))["misses"] == 1
    assert context_event(second)["cache_hit"] is True
    assert second.context_score == 1.0


@engine_db
def test_a_search_is_asked_again_only_when_what_it_searches_changed(stub_server, run_jobs):
    run("ctx-changed", run_jobs)
    # Another spec edited, the files c relies on the same: c's context is still cached.
    edited = import_masterplan(
        PLAN.format(name="ctx-changed").replace('returning "a"', 'returning "a", always')
    )
    start_masterplan(edited.pk)
    run_jobs()
    figures = counters.stats(retrieval.KIND, str(edited.pk))
    assert (figures["hits"], figures["misses"]) == (1, 0)
    # helper_text's spec changed and its file with it: what c's search finds has changed.
    rewritten = "```python\ndef helper_text() -> str:\n    return 'hh'\n```"
    stub_server.configure(atom_texts={"helper_text": [rewritten]})
    fixed = import_masterplan(
        PLAN.format(name="ctx-changed").replace('returning "h"', 'returning "hh"')
    )
    start_masterplan(fixed.pk)
    run_jobs()
    atom = fixed.atoms.get(name="c")
    figures = counters.stats(retrieval.KIND, str(atom.masterplan_id))
    assert (figures["hits"], figures["misses"]) == (0, 1)
    assert "return 'hh'" in stub_server.stats.last_prompt_by_atom["c"]


@engine_db
def test_an_unreadable_entry_is_a_miss_and_is_rewritten(stub_server, run_jobs, monkeypatch):
    stored: list[str] = []
    original = retrieval.RedisRetrievalCache.put

    def spoil(self, key, masterplan_id, chunks, about):
        original(self, key, masterplan_id, chunks, about)
        get_redis().set(f"{retrieval.PREFIX}:{key}", b'{"not": "chunks"')  # cut off
        stored.append(key)

    monkeypatch.setattr(retrieval.RedisRetrievalCache, "put", spoil)
    run("ctx-spoiled", run_jobs)
    monkeypatch.undo()
    second = run("ctx-spoiled", run_jobs)
    assert counters.stats(retrieval.KIND, str(second.masterplan_id))["misses"] == 1
    assert context_event(second)["names_found"] == ["a", "helper_text"]  # searched again
    assert all(get_redis().get(f"{retrieval.PREFIX}:{key}") for key in stored)  # rewritten


@engine_db
def test_a_redis_that_does_not_answer_leaves_the_search_to_the_database(
    stub_server, run_jobs, monkeypatch
):
    broken = Redis(host="127.0.0.1", port=1, socket_timeout=0.05, socket_connect_timeout=0.05)
    monkeypatch.setattr(retrieval, "cache_redis", lambda: broken)
    monkeypatch.setattr(counters, "cache_redis", lambda: broken)
    atom = run("ctx-no-redis", run_jobs)
    assert atom.status == Atom.Status.COMPLETED
    assert context_event(atom)["names_found"] == ["a", "helper_text"]


@pytest.mark.django_db
def test_on_sqlite_the_fts5_table_follows_the_chunks_and_ranks_the_search(tmp_path: Path) -> None:
    database = tmp_path / "mge.sqlite3"
    document = tmp_path / "plan.md"
    document.write_text(PLAN.format(name="on-sqlite"))
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": django_settings.REDIS_URL,
        "MGE_LLM_PROVIDER": "offline",
        "MGE_OFFLINE_LATENCY_MS": "0",
        "MGE_WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        "MGE_ACCEPTANCE_AFTER_WAVES": "false",
        "MGE_PRECISION_AFTER_WAVES": "false",
        "MGE_DEPENDENCIES_AFTER_WAVES": "false",
    }

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], env=environment, capture_output=True,
            text=True, timeout=300, cwd=django_settings.BASE_DIR,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "--verbosity", "0")
    manage("mge", "run", str(document), "--inline")
    found = manage("shell", "-c", (
        "from execution.context.search import search; from django.db.models import Q; "
        "from execution.models import MasterPlan; import json; "
        "plan = MasterPlan.objects.get(name='on-sqlite'); "
        "print(json.dumps([c.source for c in search(plan.pk, ['helper', 'text'], corpus=Q(kind='file'), exclude_atoms=(), limit=5)]))"  # noqa: E501
    ))  # fmt: skip
    assert json.loads(found.strip().splitlines()[-1]) == ["pkg/helper.py"]
    with sqlite3.connect(database) as db:
        chunks = db.execute("SELECT count(*) FROM execution_contextchunk").fetchone()[0]
        indexed = db.execute("SELECT count(*) FROM execution_contextchunk_fts").fetchone()[0]
        scores = db.execute("SELECT name, context_score FROM execution_atom").fetchall()
    assert chunks == indexed == 5  # three specs, the two files of wave 1
    assert dict(scores)["c"] == 1.0
