"""Queueing the acceptance app's jobs (RQ); the entry points are in acceptance.tasks."""

from __future__ import annotations

from typing import Any

from execution.runtime import jobs

JOB_TIMEOUT_SECONDS = 3600


def enqueue(function_path: str, *args: Any, queue: str = "tests") -> str:
    """Queue a job and return its id; raises jobs.QueueUnavailable when Redis does not
    answer (asked first, where the caller can answer it: inside a transaction the enqueue
    itself waits for the commit)."""
    jobs.require_queue()
    return jobs.enqueue(function_path, *args, queue=queue, timeout_seconds=JOB_TIMEOUT_SECONDS)
