"""Thundering-herd guard: a wave job admits its atoms in steps, not all at once.

The seed's schedule: a first step of MGE_RAMP_UP_INITIAL_PCT of the atoms, then one more
step of MGE_RAMP_UP_STEP_PCT every MGE_RAMP_UP_INTERVAL_MS, each start spread by up to
MGE_RAMP_UP_JITTER_MS. One change, TCP's slow start: when fewer than half of a step's
worth of admitted atoms are unfinished, the provider has kept up, so the next step opens at
once and the steps double from then on. Waiting out the interval would only leave the
provider idle (a 2,000-atom wave served at 200 calls/s would spend most of its time
between steps); once every atom is admitted, the shared limit alone bounds the load.
Waves of at most MGE_RAMP_UP_MIN_ATOMS atoms start whole.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from django.conf import settings


class RampUp:
    def __init__(
        self,
        total: int,
        *,
        initial_pct: int,
        step_pct: int,
        interval_s: float,
        minimum: int,
        jitter_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ramped = total > minimum
        self.admitted = max(minimum, math.ceil(total * initial_pct / 100)) if self.ramped else total
        self.total = total
        self.step = max(1, math.ceil(total * step_pct / 100))
        self.interval_s = interval_s
        self.jitter_s = jitter_s if self.ramped else 0.0
        self.clock = clock
        self.next_step_at = clock() + interval_s
        self.finished = 0
        self._jittered = [range(0, self.admitted)] if self.jitter_s else []
        """The atoms (by index) that start after a random delay of up to the jitter."""
        self.steps_opened = 1
        self._condition = threading.Condition()

    @classmethod
    def from_settings(cls, total: int, shards: int = 1) -> RampUp:
        """The schedule for one shard of a wave: the floor is split over the shards."""
        return cls(
            total,
            initial_pct=settings.MGE_RAMP_UP_INITIAL_PCT,
            step_pct=settings.MGE_RAMP_UP_STEP_PCT,
            interval_s=settings.MGE_RAMP_UP_INTERVAL_MS / 1000,
            minimum=max(1, math.ceil(settings.MGE_RAMP_UP_MIN_ATOMS / shards)),
            jitter_s=settings.MGE_RAMP_UP_JITTER_MS / 1000,
        )

    def wait_turn(self, index: int) -> None:
        """Block until the atom at `index` (the wave's order, from 0) may start."""
        with self._condition:
            while index >= self.admitted:
                now = self.clock()
                if now >= self.next_step_at:
                    self._open_step(now)
                # Admitted and not finished, whether its thread has started yet or not.
                elif (self.admitted - self.finished) * 2 < self.step:
                    self.step = min(self.total, self.step * 2)
                    self._open_step(now, jittered=False)
                else:
                    self._condition.wait(self.next_step_at - now)
            jittered = any(index in spread for spread in self._jittered)
        if jittered:
            time.sleep(random.uniform(0, self.jitter_s))

    def done(self) -> None:
        with self._condition:
            self.finished += 1
            # Wake the waiting threads only when a step can open now: a wake-up of every
            # waiter at every finished atom costs more CPU than the atoms themselves.
            if self.admitted < self.total and (self.admitted - self.finished) * 2 < self.step:
                self._condition.notify_all()

    def _open_step(self, now: float, *, jittered: bool = True) -> None:
        """Admit the next step. A step opened by the clock starts at once, so its starts are
        spread; one opened because atoms finished starts as they finish, spread already."""
        opened = range(self.admitted, min(self.total, self.admitted + self.step))
        if jittered and self.jitter_s:
            self._jittered.append(opened)
        self.admitted = opened.stop
        self.next_step_at = now + self.interval_s
        self.steps_opened += 1
        self._condition.notify_all()
