"""The services the system runs on (broker, Redis): configured ones, else embedded ones
started on this machine for the demo and the tests."""

from services.resolve import redis_answers, services

__all__ = ["redis_answers", "services"]
