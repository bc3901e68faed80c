"""Waiting for a slot inside one process: first come, first served, one poller."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

POLL_FIRST_SECONDS, POLL_MAX_SECONDS = 0.005, 0.05
"""How soon the first waiter of a process polls again, doubling up to the most."""


class WaitingHere:
    """This process's threads waiting for a slot, first come, first served.

    Only the first one polls Redis; the others sleep until they are first. A hundred
    waiters polling on their own cost the workers more CPU than the atoms' work
    (benchmarks/README.md). A slot given back in this process wakes the first at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[threading.Event] = deque()

    @contextmanager
    def place(self) -> Iterator[threading.Event]:
        """A place in the queue: its event is set whenever it should try for a slot."""
        turn = threading.Event()
        with self._lock:
            self._queue.append(turn)
            if len(self._queue) == 1:
                turn.set()
        try:
            yield turn
        finally:
            with self._lock:
                self._queue.remove(turn)
                if self._queue:
                    self._queue[0].set()  # the next one polls now

    def is_first(self, turn: threading.Event) -> bool:
        with self._lock:
            return bool(self._queue) and self._queue[0] is turn

    def wake_first(self) -> None:
        with self._lock:
            if self._queue:
                self._queue[0].set()


waiting_here = WaitingHere()
