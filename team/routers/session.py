"""The dashboard's sign-in: a token is exchanged for an HttpOnly, SameSite=Strict session
cookie and a CSRF cookie the page echoes in a header (see :mod:`team.auth`)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from team.auth import CSRF_COOKIE, SESSION_COOKIE, lookup
from team.deps import session

router = APIRouter(prefix="/api/session", tags=["session"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=200)


class SignedIn(BaseModel):
    name: str
    role: str


@router.post("", response_model=SignedIn, summary="Sign in with a token (sets the session cookies)")
async def sign_in(body: SignIn, request: Request, response: Response, db: AsyncSession = Depends(session)) -> SignedIn:
    who = await lookup(db, body.token)
    if who is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, body.token, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=False, samesite="strict", secure=secure, path="/")
    return SignedIn(name=who.name, role=who.role)


@router.delete("", status_code=204, summary="Sign out (clears the session cookies)")
async def sign_out(response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    response.status_code = 204
    return response
