"""API tokens and roles. A token is sent as ``Authorization: Bearer <token>``, or by the
dashboard as an HttpOnly, SameSite=Strict session cookie; only its SHA-256 is stored.

Cookie-authenticated requests that change something must also carry the ``X-CSRF-Token``
header equal to the ``churn_csrf`` cookie (double submit), and a foreign ``Origin`` is
refused, so another site cannot make a logged-in browser act. Bearer requests need no such
check: a browser never adds that header to a cross-site request by itself.

>>> token_hash("ca_x") == token_hash("ca_x"), len(token_hash("ca_x"))
(True, 64)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from team.tables import Token

Role = Literal["agent", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("agent", "analyst", "admin")
SESSION_COOKIE, CSRF_COOKIE, CSRF_HEADER = "churn_session", "churn_csrf", "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name is the identity recorded on every action."""

    token_id: int
    name: str
    role: Role


def new_token() -> str:
    return "ca_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are 256 random bits, so a plain SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(session: AsyncSession, name: str, role: Role, created_by: str | None) -> tuple[Token, str]:
    """A new token row and the token itself (shown once, never stored)."""
    token = new_token()
    row = Token(name=name, role=role, token_hash=token_hash(token), created_at=datetime.now(UTC),
                created_by=created_by)
    session.add(row)
    await session.flush()
    return row, token


async def lookup(session: AsyncSession, token: str) -> Principal | None:
    row = (await session.execute(select(Token).where(Token.token_hash == token_hash(token),
                                                     Token.revoked_at.is_(None)))).scalar_one_or_none()
    return None if row is None else Principal(row.id, row.name, row.role)  # type: ignore[arg-type]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def _check_cross_site(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, f"cross-site request from {origin} refused")
    sent, expected = request.headers.get(CSRF_HEADER, ""), request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header for a cookie session")


async def principal(request: Request) -> Principal:
    """The caller, from the bearer token or the session cookie; 401 without a valid one."""
    header = request.headers.get("authorization", "")
    via_cookie = False
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization header must be 'Bearer <token>'")
        token = token.strip()
    elif SESSION_COOKIE in request.cookies:
        token, via_cookie = request.cookies[SESSION_COOKIE], True
    else:
        raise _unauthorized("an API token is required")
    async with request.app.state.team.sessions() as session:
        who = await lookup(session, token)
    if who is None:
        raise _unauthorized("unknown or revoked token")
    if via_cookie:
        _check_cross_site(request)
    return who


def require(*roles: Role):  # noqa: ANN201 - a FastAPI dependency
    """A dependency admitting only ``roles`` (403 for any other); applied once per router."""
    async def dependency(who: Principal = Depends(principal)) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, f"role {who.role!r} may not use this; it needs {' or '.join(roles)}")
        return who
    dependency.roles = roles  # type: ignore[attr-defined]  # read by the role tests
    return dependency
