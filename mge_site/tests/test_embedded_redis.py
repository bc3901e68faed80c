from __future__ import annotations

import django_rq
from redis import Redis
from rq import Queue, SimpleWorker

from mge_site.embedded_redis import EmbeddedRedis, redis_answers


def test_bundled_redis_server_serves_an_rq_worker_and_stops():
    redis = EmbeddedRedis().start()
    try:
        connection = Redis.from_url(redis.url())
        queue = Queue("default", connection=connection)
        jobs = [queue.enqueue("mge_site.tests.jobs.add", n, 1) for n in range(20)]
        SimpleWorker([queue], connection=connection).work(burst=True)
        assert [job.return_value() for job in jobs] == [n + 1 for n in range(20)]
    finally:
        redis.stop()
    assert not redis_answers(redis.url())


def test_the_configured_queues_use_the_test_redis(settings):
    assert django_rq.get_queue("waves").connection.connection_pool.connection_kwargs["db"] == int(
        settings.REDIS_URL.rsplit("/", 1)[1]
    )
