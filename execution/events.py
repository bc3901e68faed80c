"""What happens during one execution of an atom (or of any unit of LLM work), told to
whoever listens: the tracing app writes it down, OpenTelemetry exports it.

The core and the other apps only tell (`emit("budget_reserved", worst_usd=…)`); they
know no listener. An execution is opened in the thread that does the work
(`with observed(scope, run_db) as execution:`), and `emit` from anywhere inside it — the
gateway's stages, the retry loop — reaches that execution's recorders, found through a
context variable: no recorder travels through call signatures.

A listener's failure never fails the work: it is logged, counted and dropped here.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from execution.llm.types import run_here

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    """The unit of work an execution is of."""

    kind: str
    """`atom` or `requirement` (an acceptance test's generation)."""
    masterplan_id: str
    atom_id: str | None = None
    wave_id: str | None = None
    requirement_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    """What a listener may want to show: the atom's name, file, language, model …"""


class Recorder(Protocol):
    """One listener's record of one execution."""

    def event(self, kind: str, data: dict[str, Any]) -> None: ...

    def end(self, status: str, data: dict[str, Any]) -> None: ...


class Listener(Protocol):
    def begin(self, scope: Scope, run_db: Callable[..., Any]) -> Recorder | None:
        """A recorder for this execution, or None to ignore it."""
        ...


_listeners: list[Listener] = []
_failures: list[Callable[[], None]] = []
_current: contextvars.ContextVar[Execution | None] = contextvars.ContextVar(
    "mge_execution", default=None
)


def listen(listener: Listener) -> None:
    """Add a listener (from an AppConfig.ready(); once per process)."""
    if listener not in _listeners:
        _listeners.append(listener)


def flush(run_db: Callable[..., Any] | None = None) -> None:
    """Ask each listener that buffers (a `flush(run_db)` method) to send what it holds:
    called at the end of each wave job, before RQ's work horse leaves with os._exit()
    (which skips exit handlers). With `run_db` (a database lane's), what is held for that
    lane only: the other jobs of a worker may still run, and their lanes be closing."""
    for listener in _listeners:
        send = getattr(listener, "flush", None)
        if send is None:
            continue
        try:
            send(run_db)
        except Exception:
            _failed("flush")


def on_listener_failure(count: Callable[[], None]) -> None:
    """Called whenever a listener raises (the tracing app counts them)."""
    _failures.append(count)


def _failed(what: str) -> None:
    logger.exception("a listener failed on %s; the work goes on", what)
    for count in _failures:
        try:
            count()
        except Exception:
            logger.exception("counting a listener's failure failed")


class Execution:
    """An open execution: its recorders, and whether it ended."""

    def __init__(self, recorders: list[Recorder]) -> None:
        self.recorders = recorders
        self.ended = False

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        for recorder in self.recorders:
            try:
                recorder.event(kind, data)
            except Exception:
                _failed(kind)

    def end(self, status: str, /, **data: Any) -> None:
        """Record the outcome (once; an execution left without one ends `abandoned`)."""
        if self.ended:
            return
        self.ended = True
        for recorder in self.recorders:
            try:
                recorder.end(status, data)
            except Exception:
                _failed(f"end ({status})")


@contextmanager
def observed(scope: Scope, run_db: Callable[..., Any] = run_here) -> Iterator[Execution]:
    """Open an execution for the work inside; `end()` it with its outcome."""
    recorders: list[Recorder] = []
    for listener in _listeners:
        try:
            recorder = listener.begin(scope, run_db)
        except Exception:
            _failed("begin")
            continue
        if recorder is not None:
            recorders.append(recorder)
    execution = Execution(recorders)
    token = _current.set(execution)
    try:
        yield execution
    finally:
        _current.reset(token)
        execution.end("abandoned", error="the execution ended without an outcome")


def emit(kind: str, /, **data: Any) -> None:
    """Tell the current execution's recorders (nothing when none is open)."""
    execution = _current.get()
    if execution is not None and execution.recorders:
        execution.emit(kind, data)


def finish(status: str, /, **data: Any) -> None:
    """End the current execution with its outcome (`completed`, `failed`, …)."""
    execution = _current.get()
    if execution is not None:
        execution.end(status, **data)


def listening() -> bool:
    """Whether the current execution has recorders (skip building costly event data)."""
    execution = _current.get()
    return execution is not None and bool(execution.recorders)
