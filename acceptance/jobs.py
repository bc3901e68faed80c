"""Queueing the acceptance app's jobs (RQ); the entry points are in acceptance.tasks."""

from __future__ import annotations

from typing import Any

import django_rq

JOB_TIMEOUT_SECONDS = 3600


def enqueue(function_path: str, *args: Any, queue: str = "tests") -> str:
    job = django_rq.get_queue(queue).enqueue(function_path, *args, job_timeout=JOB_TIMEOUT_SECONDS)
    return str(job.id)
