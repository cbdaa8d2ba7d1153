"""qmark's Redis clients on a redis+sentinel:// URL follow a failover (workers/redis_client.py)."""

from __future__ import annotations

import dramatiq
import pytest
import redis

from tests.support.runners import wait_until
from workers.broker import build_broker
from workers.redis_client import redis_client

pytestmark = pytest.mark.integration


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_sentinel_client_writes_to_the_promoted_replica_after_the_master_dies(redis_sentinel):
    # Given a client built from the sentinel URL, writing to the master
    client = redis_client(redis_sentinel.url)
    client.set("before", "1")
    assert client.connection_pool.get_master_address()[1] == redis_sentinel.master.port
    # When the master is SIGKILLed and the sentinels promote the replica
    redis_sentinel.kill_master()
    redis_sentinel.wait_for_failover()
    # Then the same client, unchanged, reads what was replicated and writes to the new master
    wait_until(lambda: _answers(client), timeout=20, what="the client to reach the new master")
    assert client.get("before") == b"1"
    client.set("after", "2")
    assert redis.Redis(port=redis_sentinel.replica.port).get("after") == b"2"


def test_the_broker_enqueues_to_the_new_master_after_a_failover(redis_sentinel):
    broker = build_broker(redis_sentinel.url, namespace="sentinel-test")
    broker.declare_queue("process")
    redis_sentinel.kill_master()
    redis_sentinel.wait_for_failover()
    message = dramatiq.Message(queue_name="process", actor_name="noop", args=(), kwargs={}, options={})
    wait_until(lambda: _enqueued(broker, message), timeout=20, what="an enqueue on the new master")
    assert redis.Redis(port=redis_sentinel.replica.port).llen("sentinel-test:process") >= 1


def _enqueued(broker, message) -> bool:
    try:
        broker.enqueue(message)
    except Exception:
        return False
    return True


def test_a_bad_sentinel_service_name_fails_with_master_not_found(redis_sentinel):
    url = redis_sentinel.url.replace("/qmark/", "/nosuch/")
    with pytest.raises(redis.sentinel.MasterNotFoundError):
        redis_client(url).ping()
