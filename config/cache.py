"""The production cache: Django's Redis cache, with one Redis client per connection pool.

Django's RedisCache makes a new `redis.Redis` for every operation; building one copies the
library's table of ~170 response callbacks, about 90 µs on these machines (more than half
of a GET's own cost), and a lesson page asks the cache three to six times (its session, the
frames' generation, the route, image counts). A `redis.Redis` is safe to share between
threads (each command takes a connection from the pool), so each pool's client is made once
and kept for the life of the process.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ClientPerPoolRedisCacheClient(RedisCacheClient):
    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._clients = {}  # id of a pool in self._pools (kept for the process): its client

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # Two threads may both make one; the dictionary keeps the last, both work.
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class ArtefactRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientPerPoolRedisCacheClient
