"""What a re-run pays: the three examples run once, then again after a realistic fix.

Every call goes through the real `anthropic` SDK to the loopback stub (which answers the
Messages and Message Batches APIs and bills prompt-cache writes and reads as the API
does), on PostgreSQL and Redis, with the acceptance tests generated and run after the
waves (tests are generated in Message Batches).

The fix changes the spec of 20 % of each example's atoms (spread evenly over the plan, from
its first), and the model writes those files differently; their dependants' prompts change
with them (they show the dependency's code), and so do the prompts that show the changed
code (retrieved context, the acceptance tests of the requirements naming those files). The
second run's documents are new plans, as a user would re-import a fixed document. Prints
one figure per line:

- both runs' cost and time;
- `rerun_hit_rate`: LLM requests answered by the response cache ÷ requests, second run;
- `rerun_possible_hit_share`: requests whose cache key was asked in the first run ÷
  requests, second run (every one of them should hit);
- `rerun_cost_ratio`: the second run's cost ÷ the first's;
- `prompt_cache_read_share`: input tokens read from the provider's prompt cache ÷ all
  input tokens, first run;
- `retrieval_rerun_hit_rate`: context searches answered by the retrieval cache, second run
  (`retrieval_rerun_searches` of them: only atoms whose spec mentions a name another file
  of the plan defines, not a declared dependency, search);
- `largest_shared_prefix_tokens`: the longest system prompt and shared context sent, first
  run (a prefix is marked for the prompt cache from the model's minimum, 2,048 tokens for
  Sonnet 4.6, 4,096 for Haiku 4.5 and Opus 4.6);
- `cache_lookup_p99_ms`: a response-cache lookup on local Redis, 2,000 of them.

    python benchmarks/caching.py           (make bench runs it)
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from _services import BASE_DIR, environment_for, free_loopback_port, fresh_database, setup_django

if TYPE_CHECKING:
    from execution.models import MasterPlan

DATABASE = "mge_bench_caching"
REDIS_URL = "redis://127.0.0.1:6379/8"
EXAMPLES = ("slugkit", "typed-event-bus", "inventory-service")
FIXED_SHARE = 0.2
LATENCY_MS = 50
LOOKUPS = 2000
FIX = "Reject a None argument with TypeError."
COMMENT = {"python": "#", "typescript": "//", "javascript": "//"}


def drain() -> None:
    """Run every queued job to the end with a real RQ worker, in this process."""
    import django_rq
    from rq import SimpleWorker

    queues = [django_rq.get_queue(name) for name in ("waves", "tests", "default")]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True)


def run(documents: list[str]) -> tuple[list[MasterPlan], float]:
    from execution.actions import import_masterplan
    from execution.runtime.lifecycle import start_masterplan

    started = time.monotonic()
    plans = [import_masterplan(text) for text in documents]
    for plan in plans:
        start_masterplan(plan.pk)
    drain()
    return plans, time.monotonic() - started


def ledger(plans: list[MasterPlan]) -> dict[str, Any]:
    from django.db.models import Sum

    from budget.models import CostEntry

    return CostEntry.objects.filter(masterplan__in=plans).aggregate(
        cost=Sum("cost_usd"),
        input=Sum("input_tokens"),
        read=Sum("cache_read_input_tokens"),
        written=Sum("cache_creation_input_tokens"),
    )


def fixed(plan: MasterPlan, answers: dict[str, list[str]]) -> str:
    """The plan's document with the fix, edited in place as a user would (the lines above
    the plan keep their numbers); the model's new answers go into `answers`."""
    lines = plan.description.split("\n")
    atoms = list(plan.atoms.order_by("source_line"))
    count = max(1, round(len(atoms) * FIXED_SHARE))
    for atom in (atoms[index * len(atoms) // count] for index in range(count)):
        spec = next(
            number for number in range(atom.source_line - 1, len(lines))
            if lines[number].strip().startswith("spec:")
        )  # fmt: skip
        if lines[spec].rstrip().endswith("|"):  # a block: one more line of it
            indent = lines[spec + 1][: len(lines[spec + 1]) - len(lines[spec + 1].lstrip())]
            lines.insert(spec + 1, f"{indent}{FIX}")
        else:
            lines[spec] = f"{lines[spec].rstrip()} {FIX}"
        mark = COMMENT[atom.language]
        code = f"{atom.generated_code.rstrip()}\n\n{mark} Fixed: a None argument is rejected.\n"
        answers[atom.name] = [f"```{atom.language}\n{code}```\n"]
    return "\n".join(lines)


def recording_keys(asked: list[tuple[str, bool]], prefixes: list[int]) -> Callable[[], None]:
    """Record each response-cache key asked and whether it hit, and the length of each
    request's shared prefix; returns the undo."""
    from caching import llm_cache
    from execution.llm.prompt_cache import prefix_tokens

    key_of, lookup = llm_cache.cache_key, llm_cache.lookup

    def cache_key(request: Any, provider: str) -> str:
        prefixes.append(prefix_tokens(request))
        return key_of(request, provider)

    def recorded_lookup(key: str) -> Any:
        found = lookup(key)
        asked.append((key, found is not None))
        return found

    llm_cache.cache_key, llm_cache.lookup = cache_key, recorded_lookup

    def undo() -> None:
        llm_cache.cache_key, llm_cache.lookup = key_of, lookup

    return undo


def lookup_p99_ms() -> float:
    from caching import llm_cache
    from execution.llm.types import LLMRequest, LLMResponse

    request = LLMRequest(model="claude-haiku-4-5", system="s", max_tokens=64,
                         messages=[{"role": "user", "content": "p"}])  # fmt: skip
    key = llm_cache.cache_key(request, "anthropic")
    llm_cache.store(key, LLMResponse(text="x" * 4000, model=request.model), request)
    times = []
    for _ in range(LOOKUPS):
        started = time.perf_counter()
        assert llm_cache.lookup(key) is not None
        times.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(times, n=100)[98]


def main() -> None:
    port = free_loopback_port()
    workspaces = tempfile.mkdtemp(prefix="mge-bench-caching-")
    environment = environment_for(
        DATABASE, REDIS_URL, port,
        MGE_ACCEPTANCE_AFTER_WAVES="true", MGE_LLM_BATCH_POLL_SECONDS="0.2",
        MGE_WORKSPACE_ROOT=workspaces, MGE_LOG_LEVEL="WARNING",
    )  # fmt: skip
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from django.conf import settings

    from caching import counters, retrieval
    from execution.llm.offline import OfflineResponder
    from execution.llm.stub_server import StubServer
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()
    stub = StubServer(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR), port=port).start()
    stub.configure(latency_ms=LATENCY_MS)
    documents = [(BASE_DIR / "examples" / f"{name}.md").read_text() for name in EXAMPLES]
    asked: list[tuple[str, bool]] = []
    prefixes: list[int] = []
    undo = recording_keys(asked, prefixes)
    try:
        first, first_s = run(documents)
        first_keys = {key for key, _ in asked}
        first_prefixes = list(prefixes)
        answers: dict[str, list[str]] = {}
        fixes = [fixed(plan, answers) for plan in first]
        stub.configure(atom_texts=answers)
        del asked[:]
        second, second_s = run(fixes)
    finally:
        undo()
        stub.stop()
    once, again = ledger(first), ledger(second)
    hits = sum(hit for _, hit in asked)
    possible = sum(key in first_keys for key, _ in asked)
    searches = [counters.stats(retrieval.KIND, str(plan.pk)) for plan in second]
    search_hits = sum(figures["hits"] for figures in searches)
    search_asked = search_hits + sum(figures["misses"] for figures in searches)
    first_input = once["input"] + once["read"] + once["written"]
    print(f"first_run_cost_usd {once['cost']}")
    print(f"first_run_seconds {first_s:.2f}")
    print(f"second_run_cost_usd {again['cost']}")
    print(f"second_run_seconds {second_s:.2f}")
    print(f"rerun_requests {len(asked)}")
    print(f"rerun_hit_rate {hits / len(asked):.3f}")
    print(f"rerun_possible_hit_share {possible / len(asked):.3f}")
    print(f"rerun_cost_ratio {Decimal(again['cost']) / Decimal(once['cost']):.3f}")
    print(f"prompt_cache_read_share {once['read'] / first_input:.3f}")
    print(f"retrieval_rerun_searches {search_asked}")
    if search_asked:
        print(f"retrieval_rerun_hit_rate {search_hits / search_asked:.3f}")
    print(f"largest_shared_prefix_tokens {max(first_prefixes)}")
    print(f"cache_lookup_p99_ms {lookup_p99_ms():.3f}")
    shutil.rmtree(workspaces, ignore_errors=True)


if __name__ == "__main__":
    main()
