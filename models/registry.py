"""Model registry in Redis: versioned model bytes plus metadata, newest first.

Keys under ``prefix``: ``model:seq`` (counter), ``model:bytes:<version>``,
``model:meta`` (hash version -> JSON), ``model:versions`` (sorted set by sequence),
``model:latest``. :meth:`ModelRegistry.publish` is one Lua script: it numbers the
version, writes the bytes and meta, moves ``latest`` and prunes old versions in one
atomic step, so a reader never sees a ``latest`` whose bytes are missing. Version
ids are monotonic: ``m-000001``, ``m-000002``, ...
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from schemas.errors import ChurnError

_PUBLISH = """
local n = redis.call('INCR', KEYS[1])
local v = string.format('m-%06d', n)
redis.call('SET', KEYS[2] .. v, ARGV[1])
redis.call('HSET', KEYS[3], v, ARGV[2])
redis.call('ZADD', KEYS[4], n, v)
redis.call('SET', KEYS[5], v)
local keep = tonumber(ARGV[3])
local old = redis.call('ZRANGE', KEYS[4], 0, -(keep + 1))
for _, o in ipairs(old) do
  redis.call('DEL', KEYS[2] .. o)
  redis.call('HDEL', KEYS[3], o)
  redis.call('ZREM', KEYS[4], o)
end
return v
"""


_PROPOSE = """
local cur = redis.call('GET', KEYS[1])
local seen = tonumber(ARGV[1])
local have = 0
if cur then have = tonumber(cjson.decode(cur)['version']) end
if have ~= seen then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


class ModelNotFound(ChurnError):
    """A model version's bytes are not (or no longer) in the registry."""


class ModelRegistry:
    """Publish and load model versions; keeps the newest ``keep`` versions."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the model registry needs a Redis client with decode_responses=False (model bytes)")
        self.redis, self.keep = redis, keep
        p = f"{prefix}:model:"
        self._keys = [p + "seq", p + "bytes:", p + "meta", p + "versions", p + "latest"]
        self._usage, self._vocab = p + "usage", p + "vocabulary"
        self._publish = redis.register_script(_PUBLISH)
        self._propose = redis.register_script(_PROPOSE)

    async def publish(self, model_bytes: bytes, meta: dict[str, Any]) -> str:
        """Store a new version atomically and return its id; ``created_at`` defaults to now."""
        doc = {"created_at": time.time(), **meta}
        doc.pop("version", None)
        v = await self._publish(keys=self._keys, args=[model_bytes, json.dumps(doc), self.keep])
        return v.decode() if isinstance(v, bytes) else str(v)

    async def latest_version(self) -> str | None:
        """Newest version id, or ``None`` before the first publish (one GET)."""
        v = await self.redis.get(self._keys[4])
        return v.decode() if isinstance(v, bytes) else v

    async def load(self, version: str) -> bytes:
        """The model bytes of ``version``; :class:`ModelNotFound` once pruned."""
        data = await self.redis.get(self._keys[1] + version)
        if data is None:
            raise ModelNotFound(f"model version {version!r} is not in the registry (pruned or never published)")
        return data

    async def meta(self, version: str) -> dict[str, Any]:
        """Metadata of one version, with its ``version`` id."""
        raw = await self.redis.hget(self._keys[2], version)
        if raw is None:
            raise ModelNotFound(f"no metadata for model version {version!r}")
        return {"version": version, **json.loads(raw)}

    async def versions(self, limit: int = 10) -> list[dict[str, Any]]:
        """Metadata of the newest ``limit`` versions, newest first."""
        ids = [v.decode() if isinstance(v, bytes) else v
               for v in await self.redis.zrevrange(self._keys[3], 0, limit - 1)]
        if not ids:
            return []
        raws = await self.redis.hmget(self._keys[2], ids)
        return [{"version": v, **json.loads(r)} for v, r in zip(ids, raws) if r is not None]

    # ------------------------------------------------------------ vocabulary
    async def add_usage(self, counts: dict[str, int]) -> None:
        """Add one worker's usage counts (key → uses) to the shared ones (one round trip)."""
        if not counts:
            return
        pipe = self.redis.pipeline(transaction=False)
        for key, n in counts.items():
            pipe.zincrby(self._usage, n, key)
        await pipe.execute()

    async def usage(self, top: int) -> dict[str, float]:
        """The ``top`` most used keys with their summed counts."""
        rows = await self.redis.zrevrange(self._usage, 0, top - 1, withscores=True)
        return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in rows}

    async def vocabulary(self) -> dict[str, Any] | None:
        """The current vocabulary document, or ``None`` before the first."""
        raw = await self.redis.get(self._vocab)
        return None if raw is None else json.loads(raw)

    async def propose_vocabulary(self, seen_version: int, doc: dict[str, Any]) -> bool:
        """Replace the vocabulary with ``doc`` if its version is still ``seen_version``
        (0: none yet); ``False`` when another worker changed it first."""
        return bool(await self._propose(keys=[self._vocab], args=[seen_version, json.dumps(doc)]))
