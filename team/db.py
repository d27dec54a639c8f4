"""The team database: URLs, engines, migrations.

One driver (psycopg 3) serves the service (async) and the migrations (sync).

>>> sync_url("postgresql://postgres@127.0.0.1:5432/postgres")
'postgresql+psycopg://postgres@127.0.0.1:5432/postgres'
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import psycopg
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_TIMEOUT_S = 5  # a database that does not answer is "away" after this, not a hang
MIGRATION_LOCK = 0x636875726E  # the advisory lock migrations take ("churn")

#: Errors that mean "the database is away" (refused, shut down, restarting, connection lost),
#: not "this statement is bad": the work is retried until it answers (``services.retry``).
UNAVAILABLE: tuple[type[BaseException], ...] = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                                                psycopg.OperationalError, psycopg.InterfaceError, OSError)


def where(url: str) -> str:
    """The database's name in log lines, without credentials.

    >>> where("postgresql://u:secret@db.example:6432/team")
    'PostgreSQL at db.example:6432'
    """
    u = urlparse(url)
    return f"PostgreSQL at {u.hostname}:{u.port or 5432}"


def sync_url(url: str) -> str:
    """The SQLAlchemy URL of a ``postgresql://`` URL, through psycopg 3 (sync and async alike)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the service does this at start).

    Under a transaction-scoped advisory lock: processes that start together (replicas of the
    service, the demo and its service) migrate one after the other, and the later ones find
    the database at ``revision`` already. Without it two of them could both create Alembic's
    version table in a fresh database, and one would fail."""
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def async_engine(url: str) -> AsyncEngine:
    return create_async_engine(sync_url(url), pool_size=5, max_overflow=5, pool_pre_ping=True,
                               connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def sessions(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
