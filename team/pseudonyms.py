"""Stable pseudonyms of customer ids for analysts: a keyed hash, so counts and joins
still work but the id cannot be read back without the key.

>>> pseudonym(b"k", "cust-1") == pseudonym(b"k", "cust-1"), pseudonym(b"k", "cust-1")[:2]
(True, 'p-')
>>> pseudonym(b"k", "cust-1") != pseudonym(b"other", "cust-1")
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from team.tables import Meta

KEY_NAME = "pseudonym_key"


def pseudonym(key: bytes, customer_id: str) -> str:
    """``p-`` and 24 hex digits of HMAC-SHA256(key, customer_id)."""
    return "p-" + hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()[:24]


async def load_key(session: AsyncSession, configured: str | None) -> bytes:
    """The configured key, else the one this database generated on first start."""
    if configured:
        return configured.encode()
    await session.execute(insert(Meta).values(key=KEY_NAME, value=secrets.token_hex(32)).on_conflict_do_nothing())
    value = (await session.execute(select(Meta.value).where(Meta.key == KEY_NAME))).scalar_one()
    await session.commit()
    return value.encode()
