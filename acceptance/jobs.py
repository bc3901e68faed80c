"""Queueing the acceptance app's jobs (RQ); the entry points are in acceptance.tasks."""

from __future__ import annotations

import uuid
from typing import Any

import django_rq

from execution.control import require_queue

JOB_TIMEOUT_SECONDS = 3600


def enqueue(function_path: str, *args: Any, queue: str = "tests") -> str:
    """Queue a job and return its id; raises control.QueueUnavailable when Redis does not
    answer. Inside a transaction django-rq defers the enqueue to the commit (and returns no
    job), so the id is ours and Redis is asked first, where the caller can answer it."""
    require_queue()
    job_id = str(uuid.uuid4())
    django_rq.get_queue(queue).enqueue(
        function_path, *args, job_id=job_id, job_timeout=JOB_TIMEOUT_SECONDS
    )
    return job_id
