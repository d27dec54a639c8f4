"""Managing API tokens (admins only). A token is shown once, at creation."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from team.auth import Principal, Role, issue, require
from team.deps import session
from team.tables import Token

admin = require("admin")
router = APIRouter(prefix="/api/tokens", tags=["tokens"], dependencies=[Depends(admin)])


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, description="The person or system; recorded on every action.")
    role: Role


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None


class IssuedToken(TokenOut):
    token: str = Field(description="The token itself; shown only now, stored only as a hash.")


def _out(t: Token) -> TokenOut:
    return TokenOut(id=t.id, name=t.name, role=t.role, created_at=t.created_at, created_by=t.created_by,
                    revoked_at=t.revoked_at)


@router.get("", response_model=list[TokenOut], summary="Every token (never the token itself)")
async def list_tokens(db: AsyncSession = Depends(session)) -> list[TokenOut]:
    return [_out(t) for t in (await db.execute(select(Token).order_by(Token.id))).scalars()]


@router.post("", response_model=IssuedToken, status_code=201, summary="Issue a token")
async def create_token(body: NewToken, who: Principal = Depends(admin), db: AsyncSession = Depends(session)) -> IssuedToken:
    row, token = await issue(db, body.name, body.role, who.name)
    await db.commit()
    return IssuedToken(**_out(row).model_dump(), token=token)


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke a token")
async def revoke_token(token_id: int, db: AsyncSession = Depends(session)) -> TokenOut:
    row = await db.get(Token, token_id) if -2**63 <= token_id < 2**63 else None
    if row is None:
        raise HTTPException(404, f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await db.commit()
    return _out(row)
