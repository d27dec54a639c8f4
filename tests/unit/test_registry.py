"""ModelRegistry against the session's real Redis, one fresh key prefix per test."""

import asyncio

import pytest

from models.registry import ModelNotFound, ModelRegistry


def run(scratch, body, **kw):
    return scratch.run(lambda client: body(ModelRegistry(client, scratch.prefix, **kw)))


def test_publish_load_latest_and_meta(scratch_redis):
    async def body(reg):
        assert await reg.latest_version() is None and await reg.versions() == []
        v1 = await reg.publish(b"one", {"n_seen": 10})
        v2 = await reg.publish(b"two", {"n_seen": 20, "created_at": 5.0})
        assert (v1, v2) == ("m-000001", "m-000002")
        assert await reg.latest_version() == v2
        assert await reg.load(v1) == b"one" and await reg.load(v2) == b"two"
        metas = await reg.versions(10)
        assert [m["version"] for m in metas] == [v2, v1]
        assert metas[0] == {"version": v2, "n_seen": 20, "created_at": 5.0}
        assert metas[1]["created_at"] > 0
        assert (await reg.meta(v1))["n_seen"] == 10
    run(scratch_redis, body)


def test_keeps_only_the_newest_versions(scratch_redis):
    async def body(reg):
        ids = [await reg.publish(f"b{i}".encode(), {"i": i}) for i in range(5)]
        assert [m["version"] for m in await reg.versions(10)] == ids[:1:-1]
        with pytest.raises(ModelNotFound):
            await reg.load(ids[0])
        with pytest.raises(ModelNotFound):
            await reg.meta(ids[1])
        assert await reg.load(ids[2]) == b"b2"
    run(scratch_redis, body, keep=3)


def test_concurrent_publishes_get_distinct_monotonic_ids_and_latest_always_loads(scratch_redis):
    async def body(reg):
        seen_missing = []

        async def reader():
            for _ in range(200):
                v = await reg.latest_version()
                if v is not None:
                    try:
                        await reg.load(v)
                    except ModelNotFound:
                        seen_missing.append(v)

        ids, _ = await asyncio.gather(asyncio.gather(*(reg.publish(b"x" * 1000, {}) for _ in range(50))), reader())
        assert sorted(ids) == [f"m-{i:06d}" for i in range(1, 51)]
        assert await reg.latest_version() == "m-000050"
        assert await reg.load("m-000050") == b"x" * 1000
        return seen_missing
    # keep=50: nothing is pruned, so a latest whose bytes are missing would be a torn publish
    assert run(scratch_redis, body, keep=50) == []


def test_rejects_decoding_clients_and_bad_keep(scratch_redis):
    async def body(client):
        decoding = scratch_redis.client(decode_responses=True)
        try:
            with pytest.raises(ValueError):
                ModelRegistry(decoding, scratch_redis.prefix)
        finally:
            await decoding.aclose()
        with pytest.raises(ValueError):
            ModelRegistry(client, scratch_redis.prefix, keep=0)
    scratch_redis.run(body)
