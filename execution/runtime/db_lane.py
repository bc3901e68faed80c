"""The database lane: a few threads with persistent connections that do the wave jobs'
database work for their atom threads, one lane per worker process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection

from execution.runtime.concurrency import SAMPLES_KEPT, ConcurrencyLimiter

T = TypeVar("T")


class _Connections:
    """The lane's threads, each with its own persistent connection.

    A hundred atoms in flight must not hold a hundred PostgreSQL connections (the
    server's default limit) through their LLM calls, and opening a connection per query
    costs more than the query: so atom threads hand their reads and writes to the lane.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="db-lane")

    def submit(self, function: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, float]:
        return self._pool.submit(_fresh_connection_call, function, args).result()

    def close(self) -> None:
        # Close every lane thread's connection: each thread takes exactly one of these
        # tasks, since all of them wait at the barrier until every thread holds one.
        barrier = threading.Barrier(self.size)

        def close() -> None:
            barrier.wait(timeout=30)
            connection.close()

        for future in [self._pool.submit(close) for _ in range(self.size)]:
            future.result()
        self._pool.shutdown()


_lock = threading.Lock()
_shared: _Connections | None = None
_users = 0
_idle_closer: threading.Timer | None = None


class DatabaseLane:
    """A wave job's way to the process's lane; the jobs a worker runs at once share it, so
    a worker process holds MGE_DB_LANE_CONNECTIONS connections for its atoms, however
    many jobs it runs. The lane opens with its first job and closes once no job has used
    it for MGE_DB_LANE_IDLE_SECONDS: a plan's waves follow each other milliseconds apart,
    and the next wave's job need not open its connections again before its first claim.

    It keeps the job's timings apart: the query's own time (the database signal of the
    concurrency limit) and the wait for a lane thread (a busy process, not a slow
    database: the concurrency page shows both).
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = size or settings.MGE_DB_LANE_CONNECTIONS
        self.query_ms: list[float] = []
        self.wait_ms: list[float] = []
        self._connections: _Connections | None = None

    def run(self, function: Callable[..., T], *args: Any) -> T:
        assert self._connections is not None, "use the lane inside its with block"
        submitted = time.perf_counter()
        result, query_s = self._connections.submit(function, args)
        self.query_ms.append(query_s * 1000)
        self.wait_ms.append(max(0.0, time.perf_counter() - submitted - query_s) * 1000)
        return result

    def __enter__(self) -> DatabaseLane:
        global _shared, _users, _idle_closer
        with _lock:
            if _idle_closer is not None:
                _idle_closer.cancel()
                _idle_closer = None
            if _shared is None:
                _shared = _Connections(self.size)
            _users += 1
            self._connections = _shared
        return self

    def __exit__(self, *exc: object) -> None:
        global _shared, _users, _idle_closer
        closing = None
        with _lock:
            _users -= 1
            if _users == 0:
                idle_s = settings.MGE_DB_LANE_IDLE_SECONDS
                if idle_s > 0:
                    _idle_closer = threading.Timer(idle_s, _close_if_idle, args=(_shared,))
                    _idle_closer.daemon = True
                    _idle_closer.start()
                else:
                    closing, _shared = _shared, None
        if closing is not None:
            closing.close()
        self._connections = None
        ConcurrencyLimiter().record_db_ms(
            self.query_ms[-SAMPLES_KEPT:], self.wait_ms[-SAMPLES_KEPT:]
        )


def _close_if_idle(lane: _Connections | None) -> None:
    global _shared, _idle_closer
    with _lock:
        # A job may have come (and gone) since the timer started: only the lane it was
        # started for, still unused, closes.
        if lane is None or lane is not _shared or _users:
            return
        _shared = _idle_closer = None
    lane.close()


def _fresh_connection_call(function: Callable[..., T], args: tuple[Any, ...]) -> tuple[T, float]:
    """The function's result and the seconds it took in the lane thread."""
    started = time.perf_counter()
    close_old_connections()  # drops a connection past its age or broken
    result = function(*args)
    return result, time.perf_counter() - started
