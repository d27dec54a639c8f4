"""Who am I (any role): the dashboard shows the name and hides what the role may not do."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from team.auth import ROLES, Principal, require
from team.routers.session import SignedIn

anyone = require(*ROLES)
router = APIRouter(prefix="/api/me", tags=["session"], dependencies=[Depends(anyone)])


@router.get("", response_model=SignedIn, summary="The caller's name and role")
async def me(who: Principal = Depends(anyone)) -> SignedIn:
    return SignedIn(name=who.name, role=who.role)
