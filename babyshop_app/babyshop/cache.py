"""The shared cache's backend: Django's RedisCache, keeping its redis clients.

Django 5.2's RedisCacheClient makes a new ``redis.Redis`` for every cache
call, and redis-py fills about 170 response callbacks into each one: some
40 µs of CPU per call, a fifth of what a page-cache hit cost (make bench).
A client is thread-safe and holds nothing but its connection pool, which
Django already shares; so here each pool gets one client, made once.

``RedisCache.redis()`` hands that client out for what Django's cache API has
no word for: the page cache's publish/subscribe (babyshop/pagecache.py).
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        # Pools live as long as this object, so their ids are stable keys.
        # Two threads racing here make one spare client: harmless.
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def redis(self, *, write=False):
        """The redis.Redis client of this cache's (first) server."""
        return self._cache.get_client(write=write)
