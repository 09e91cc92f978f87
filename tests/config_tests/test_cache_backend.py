"""The production cache (config.cache.ArtefactRedisCache) against a real Redis: it keeps one
client per connection pool instead of making one per operation, and behaves as Django's
Redis cache does, from many threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from config.cache import ArtefactRedisCache


def _cache(redis_server) -> ArtefactRedisCache:
    return ArtefactRedisCache(redis_server.url, {"KEY_PREFIX": "cache-backend-test"})


def test_one_client_serves_every_operation(redis_server):
    cache = _cache(redis_server)
    first = cache._cache.get_client("a")
    assert cache._cache.get_client("b") is first
    assert cache._cache.get_client("c", write=True) is first  # one server: one pool


def test_values_round_trip_through_the_kept_client(redis_server):
    cache = _cache(redis_server)
    cache.set("frame", {"title": "Reading a header", "blocks": [1, 2]}, timeout=30)
    assert cache.get("frame") == {"title": "Reading a header", "blocks": [1, 2]}
    assert cache.add("frame", "other") is False
    cache.set("generation", 7)
    assert cache.incr("generation") == 8
    cache.delete("frame")
    assert cache.get("frame", "gone") == "gone"


def test_threads_sharing_the_client_each_read_their_own_values(redis_server):
    cache = _cache(redis_server)

    def work(number: int) -> bool:
        key = f"thread-{number}"
        results = []
        for step in range(50):
            cache.set(key, (number, step), timeout=30)
            results.append(cache.get(key) == (number, step))
        return all(results)

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(work, range(32)))
