"""The database lane: a few threads with persistent connections that do a wave job's
database work for its atom threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.db import close_old_connections, connection

from execution.runtime.concurrency import SAMPLES_KEPT, ConcurrencyLimiter

T = TypeVar("T")


class DatabaseLane:
    """A few threads, each with its own persistent connection, that do a wave job's
    database work.

    A hundred atoms in flight must not hold a hundred PostgreSQL connections (the
    server's default limit) through their LLM calls, and opening a connection per query
    costs more than the query: so atom threads hand their reads and writes to the lane.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.timings_ms: list[float] = []
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="db-lane")

    def run(self, function: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return self._pool.submit(_fresh_connection_call, function, args).result()
        finally:
            # Queue wait included: what an atom waits for the database is the signal.
            self.timings_ms.append((time.perf_counter() - started) * 1000)

    def __enter__(self) -> DatabaseLane:
        return self

    def __exit__(self, *exc: object) -> None:
        # Close every lane thread's connection: each thread takes exactly one of these
        # tasks, since all of them wait at the barrier until every thread holds one.
        barrier = threading.Barrier(self.size)

        def close() -> None:
            barrier.wait(timeout=30)
            connection.close()

        for future in [self._pool.submit(close) for _ in range(self.size)]:
            future.result()
        self._pool.shutdown()
        ConcurrencyLimiter().record_db_ms(self.timings_ms[-SAMPLES_KEPT:])


def _fresh_connection_call(function: Callable[..., T], args: tuple[Any, ...]) -> T:
    close_old_connections()  # drops a connection past its age or broken
    return function(*args)
