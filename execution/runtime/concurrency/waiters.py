"""Waiting for a slot inside one process: the plans take turns, and within a plan first
come, first served; one poller."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager

POLL_FIRST_SECONDS, POLL_MAX_SECONDS = 0.005, 0.05
"""How soon the first waiter of a process polls again, doubling up to the most."""


class WaitingHere:
    """This process's threads waiting for a slot.

    The waiters of each plan (their group) queue in order of arrival, and the groups take
    turns: once a group's first waiter has its slot the group goes to the back, so a plan
    with a thousand atoms waiting does not starve the next plan's ten. Only the first
    waiter polls Redis; the others sleep until they are first. A hundred waiters polling
    on their own cost the workers more CPU than the atoms' work (benchmarks/README.md).
    A slot given back in this process wakes the first at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: OrderedDict[str, deque[threading.Event]] = OrderedDict()
        """The groups in the order of their turns, each with its waiters."""

    @contextmanager
    def place(self, group: str = "") -> Iterator[threading.Event]:
        """A place in the group's queue: its event is set whenever it should try for a
        slot."""
        turn = threading.Event()
        with self._lock:
            self._groups.setdefault(group, deque()).append(turn)
            if self._first() is turn:
                turn.set()
        try:
            yield turn
        finally:
            with self._lock:
                was_first = self._first() is turn
                waiters = self._groups[group]
                waiters.remove(turn)
                if not waiters:
                    del self._groups[group]
                elif was_first:
                    self._groups.move_to_end(group)  # served: the next group's turn
                first = self._first()
                if was_first and first is not None:
                    first.set()  # the next one polls now

    def is_first(self, turn: threading.Event) -> bool:
        with self._lock:
            return self._first() is turn

    def wake_first(self) -> None:
        with self._lock:
            first = self._first()
            if first is not None:
                first.set()

    def _first(self) -> threading.Event | None:
        for waiters in self._groups.values():
            return waiters[0]
        return None


waiting_here = WaitingHere()
