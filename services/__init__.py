"""The services the system runs on (broker, Redis, PostgreSQL): configured ones, else embedded ones
started on this machine for the demo and the tests."""

from services.resolve import database, database_answers, redis_answers, services

__all__ = ["database", "database_answers", "redis_answers", "services"]
