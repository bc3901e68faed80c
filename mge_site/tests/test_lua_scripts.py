"""Lua scripts run by SHA survive a Redis that forgot them (a restart, SCRIPT FLUSH)."""

from __future__ import annotations

from mge_site.redis_connection import LuaScript, shared_redis

ADD = LuaScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")


def test_a_script_runs_by_its_sha_and_is_loaded_again_after_a_flush() -> None:
    client = shared_redis()
    assert ADD(client, keys=["mge:test:counter"], args=[2]) == 2
    client.script_flush()  # as a restarted server, which keeps nothing on disk
    assert client.script_exists(ADD.sha) == [False]
    assert ADD(client, keys=["mge:test:counter"], args=[3]) == 5
    assert client.script_exists(ADD.sha) == [True]
