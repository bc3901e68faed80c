"""An RQ worker that runs many jobs at once, each in a thread of its process.

A wave job spends its life waiting: for slots of the shared limit, for the provider. One
job at a time per worker process left the shared limit mostly empty while other plans'
waves sat in the queue (two workers held at most two waves' atoms in flight, whatever the
limit). Here a worker takes the next job as soon as one of its MGE_WORKER_JOBS places is
free, so every running plan's open wave competes for the one distributed limit, and the
limit, not the number of worker processes, bounds what is in flight
(benchmarks/README.md, "many_plans.py").

RQ's bookkeeping is per execution already (the started registry, heartbeats): this worker
keeps one execution per running job and renews each one's heartbeat, so the jobs of a
worker that is killed lapse within a minute or two, as a forking worker's do.
"""

from __future__ import annotations

import gc
import importlib
import threading
from typing import Any

from django.conf import settings
from django.db import connections
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.timeouts import TimerDeathPenalty
from rq.worker import SimpleWorker


class ConcurrentWorker(SimpleWorker):
    # The signal-based penalty works only in the main thread; a timer raises the timeout
    # in the job's own thread.
    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.places = settings.MGE_WORKER_JOBS
        self._threads: set[threading.Thread] = set()
        self._beating_for: dict[str, tuple[Job, Execution]] = {}
        self._changed = threading.Condition()
        self._beating = threading.Event()

    def work(self, *args: Any, **kwargs: Any) -> bool:
        freeze_the_loaded_code()
        return super().work(*args, **kwargs)

    # --- taking jobs ------------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """The next job once a place is free. In burst mode (no timeout) an empty queue
        ends the worker only when none of its jobs still runs: a running wave job queues
        the next wave when it ends."""
        while True:
            self._wait_for_a_place()
            result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            if result is not None or timeout is not None or not self.running_jobs():
                return result
            with self._changed:
                self._changed.wait(timeout=0.2)

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        thread = threading.Thread(
            target=self._perform, args=(job, queue, execution), name=f"job-{job.id}", daemon=True
        )
        with self._changed:
            self._threads.add(thread)
            self._beating_for[execution.id] = (job, execution)
        self._start_heartbeats()
        thread.start()

    def running_jobs(self) -> int:
        with self._changed:
            return len(self._threads)

    def _wait_for_a_place(self) -> None:
        with self._changed:
            while len(self._threads) >= self.places:
                if not self._changed.wait(timeout=self.job_monitoring_interval):
                    self.heartbeat()

    def _perform(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            self.perform_job(job, queue, execution)
        finally:
            # The job's thread ends here: its connections would otherwise stay open until
            # the server drops them.
            connections.close_all()
            with self._changed:
                self._threads.discard(threading.current_thread())
                self._beating_for.pop(execution.id, None)
                self._changed.notify_all()

    # --- staying alive ------------------------------------------------------------------------

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # Short, as a forking worker's: the heartbeats below renew it while the job runs.
        if job.timeout and job.timeout > 0:
            return int(min(job.timeout - working_time, self.job_monitoring_interval)) + 60
        return self.job_monitoring_interval + 60

    def _start_heartbeats(self) -> None:
        if not self._beating.is_set():
            self._beating.set()
            threading.Thread(target=self._beat, name="job-heartbeats", daemon=True).start()

    def _beat(self) -> None:
        while True:
            with self._changed:
                self._changed.wait(timeout=self.job_monitoring_interval / 2)
                # Under the lock: an execution cleaned up meanwhile (below) must not be
                # renewed back into the started registry.
                for job, execution in self._beating_for.values():
                    self.maintain_heartbeats(job, execution)

    def cleanup_execution(
        self, job: Job, pipeline: Any, execution: Execution | None = None
    ) -> None:
        if execution is not None:
            with self._changed:
                self._beating_for.pop(execution.id, None)
        super().cleanup_execution(job, pipeline, execution)

    # --- stopping -----------------------------------------------------------------------------

    def teardown(self) -> None:
        """A warm shutdown lets the running jobs finish (a second Ctrl-C or SIGTERM stops
        the process at once; the atoms' leases then return them to the queue)."""
        with self._changed:
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        super().teardown()


def freeze_the_loaded_code() -> None:
    """Leave what the process loaded to run jobs (modules, classes, functions: most of its
    objects) out of the cyclic collector's passes from now on.

    Fifty atoms in flight keep their requests and answers alive through several young
    collections, so they reach the oldest generation and trigger its full passes, and each
    of those walked the whole loaded Django, SDK and app code: 118–185 ms of a worker
    with its atom threads stopped, twice a 1,000-atom plan; 3–14 ms once frozen
    (benchmarks/README.md)."""
    importlib.import_module("execution.tasks")  # what a job runs, loaded before the freeze
    gc.collect()
    gc.freeze()
