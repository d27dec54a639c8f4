"""The suite's Redis fixtures: a silent default URL starts an embedded redis-server, a
silent configured one fails, and a test's scratch prefix is its own and is cleaned up."""

import pytest

from schemas.errors import ServiceError
from services import redis_answers
from services.embedded import free_port
from tests.scratch_redis import ScratchRedis, session_redis


def silent_url() -> str:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_answers(url), "a port that was free a moment ago answers PING"
    return url


def test_a_default_url_where_nothing_answers_gets_an_embedded_redis_for_the_session():
    url = silent_url()
    with session_redis(url, embed_when_silent=True) as answering:
        assert answering != url and redis_answers(answering)
        scratch = ScratchRedis.fresh(answering, "embedded")
        scratch.run(lambda r: r.set(f"{scratch.prefix}:k", b"v"))
        assert scratch.keys() == [f"{scratch.prefix}:k".encode()]
    assert not redis_answers(answering), "the embedded redis-server stops with the session"


def test_a_configured_url_where_nothing_answers_fails_instead_of_embedding():
    url = silent_url()
    with pytest.raises(ServiceError, match="does not answer"), session_redis(url, embed_when_silent=False):
        pass


def test_a_redis_that_answers_is_used_as_it_is(redis_url):
    with session_redis(redis_url, embed_when_silent=True) as answering:
        assert answering == redis_url


def test_scratch_prefixes_are_fresh_and_cleanup_deletes_only_their_own_keys(redis_url):
    mine, other = ScratchRedis.fresh(redis_url, "test_x[a*b]"), ScratchRedis.fresh(redis_url, "test_x[a*b]")
    assert mine.prefix != other.prefix and "[" not in mine.prefix and "*" not in mine.prefix

    async def fill(r):
        await r.set(f"{mine.prefix}:a", b"1")
        await r.hset(f"{mine.prefix}:cust:c1:score", mapping={"score": "0.5"})
        await r.set(f"{other.prefix}:a", b"2")
        await r.set(f"{mine.prefix}-demo:a", b"3")  # a prefix that merely starts like mine is not mine
    mine.run(fill)
    try:
        assert mine.delete_keys() == 2 and mine.keys() == []
        assert other.keys() == [f"{other.prefix}:a".encode()]
    finally:
        other.delete_keys()
        mine.run(lambda r: r.delete(f"{mine.prefix}-demo:a"))


def test_the_scratch_redis_fixture_hands_out_the_sessions_redis(scratch_redis, redis_url):
    assert scratch_redis.url == redis_url and scratch_redis.prefix.startswith("test-scratch_redis-")
    assert scratch_redis.run(lambda r: r.ping())
