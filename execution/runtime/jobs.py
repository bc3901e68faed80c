"""Putting work on the RQ queues: a wave's jobs, a check's job, and the guards before
new work is admitted (the queue answers; the limiter is not saturated)."""

from __future__ import annotations

import math
import uuid
from typing import Any

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from execution.models import Atom, Wave
from execution.runtime.concurrency import ConcurrencyLimiter
from mge_site.redis_connection import get_redis

WAVE_JOB = "execution.tasks.run_wave"
WAVE_JOB_TIMEOUT_SECONDS = 6 * 3600
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class QueueUnavailable(Exception):
    """Redis does not answer, so no job can be queued (HTTP 503)."""


class Backpressure(Exception):
    """Too many LLM calls already wait for a slot: start later (HTTP 429)."""

    retry_after_seconds = 30


def require_queue() -> None:
    client = get_redis(timeout_seconds=2)
    try:
        client.ping()
    except RedisError as error:
        raise QueueUnavailable(f"the job queue (Redis) is not reachable: {error}") from None
    finally:
        client.close()


def refuse_when_saturated() -> None:
    """New work waits outside while the calls already admitted queue for slots."""
    depth = ConcurrencyLimiter().queue_depth()
    if depth >= settings.MGE_CONCURRENCY_QUEUE_MAX:
        raise Backpressure(
            f"{depth} LLM calls are waiting for a slot (at most "
            f"{settings.MGE_CONCURRENCY_QUEUE_MAX}); try again in "
            f"{Backpressure.retry_after_seconds} s"
        )


def enqueue(
    function_path: str, *args: Any, queue: str, timeout_seconds: int, job_id: str | None = None
) -> str:
    """Queue a job and return its id. Inside a transaction django-rq defers the enqueue to
    the commit (and returns no job), so the id is ours."""
    job_id = job_id or str(uuid.uuid4())
    django_rq.get_queue(queue).enqueue(
        function_path, *args, job_id=job_id, job_timeout=timeout_seconds
    )
    return job_id


def enqueue_wave(wave: Wave) -> list[str]:
    """Queue a wave's jobs: one per MGE_WAVE_SHARD_SIZE runnable atoms."""
    runnable = wave.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).count()
    shards = max(1, math.ceil(runnable / settings.MGE_WAVE_SHARD_SIZE))
    queue = django_rq.get_queue("waves")
    job_ids = [str(uuid.uuid4()) for _ in range(shards)]
    for shard, job_id in enumerate(job_ids):
        queue.enqueue(
            WAVE_JOB,
            str(wave.pk),
            shard,
            shards,
            job_id=job_id,
            job_timeout=WAVE_JOB_TIMEOUT_SECONDS,
            description=f"{wave.masterplan.name}: wave {wave.number} ({shard + 1}/{shards})",
        )
    return job_ids


def job_is_alive(job_id: str) -> bool:
    """Whether a job is still waiting or running (not finished, failed, or lost with its
    queue or its worker)."""
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection())
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in _ALIVE
