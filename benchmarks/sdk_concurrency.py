"""The Anthropic SDK's CPU per call with a hundred calls in flight: the sync client on a
hundred threads (how the engine calls it) against `AsyncAnthropic` on one event loop.

The API stub answers after 200 ms; each model asks ROUNDS rounds of CALLS calls at once,
the two alternated (threads, asyncio, threads, asyncio) after a warm round each. Prints
the CPU (user + system, every thread of this process) and the context switches per call
of each, and their ratio: what an async execution model would change in the calls' own
cost.

    python benchmarks/sdk_concurrency.py       (make bench runs it)
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
from _services import environment_for, free_loopback_port, start_stub

CALLS, ROUNDS, LATENCY_MS = 100, 8, 200
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1000,
    "system": "You write Python.",
    "messages": [{"role": "user", "content": "Atom: a\nFile: gen/a.py\nDefine a().\n" * 20}],
}


def _usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_nvcsw + usage.ru_nivcsw


def _per_call(run_round: Callable[[], None]) -> tuple[float, float]:
    run_round()  # warm: connections open, code loaded
    cpu_before, switches_before = _usage()
    for _ in range(ROUNDS):
        run_round()
    cpu_after, switches_after = _usage()
    calls = CALLS * ROUNDS
    return (cpu_after - cpu_before) * 1000 / calls, (switches_after - switches_before) / calls


def on_threads(base_url: str) -> tuple[float, float]:
    client = anthropic.Anthropic(
        api_key="benchmark", base_url=base_url, max_retries=0, open_telemetry=False
    )
    with ThreadPoolExecutor(max_workers=CALLS) as pool:

        def run_round() -> None:
            list(pool.map(lambda _: client.messages.create(**REQUEST), range(CALLS)))

        return _per_call(run_round)


def on_event_loop(base_url: str) -> tuple[float, float]:
    loop = asyncio.new_event_loop()
    client = anthropic.AsyncAnthropic(
        api_key="benchmark", base_url=base_url, max_retries=0, open_telemetry=False
    )

    async def one_round() -> None:
        await asyncio.gather(*(client.messages.create(**REQUEST) for _ in range(CALLS)))

    try:
        return _per_call(lambda: loop.run_until_complete(one_round()))
    finally:
        loop.run_until_complete(client.close())
        loop.close()


def main() -> None:
    port = free_loopback_port()
    environment = environment_for("mge_bench_sdk", "redis://127.0.0.1:6379/13", port)
    stub = start_stub(port, environment, "--latency-ms", str(LATENCY_MS))
    base_url = f"http://127.0.0.1:{port}"
    figures: dict[str, list[tuple[float, float]]] = {"threads": [], "asyncio": []}
    try:
        for name, measure in (("threads", on_threads), ("asyncio", on_event_loop)) * 2:
            figures[name].append(measure(base_url))
    finally:
        stub.send_signal(signal.SIGTERM)
        stub.wait(timeout=30)
    mean = {
        name: tuple(sum(values) / len(values) for values in zip(*runs, strict=True))
        for name, runs in figures.items()
    }
    for name in ("threads", "asyncio"):
        print(f"sdk_{name}_cpu_ms_per_call: {mean[name][0]:.3f}")
        print(f"sdk_{name}_context_switches_per_call: {mean[name][1]:.1f}")
    print(f"sdk_asyncio_over_threads_cpu_ratio: {mean['asyncio'][0] / mean['threads'][0]:.3f}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mge_site.settings")
    main()
