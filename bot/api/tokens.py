"""API tokens: a professional's system sees contact persons with ``Authorization: Bearer <token>``.

A token is shown once when it is made; only its SHA-256 hash is stored (a token is 256 random bits, so a
plain hash is enough: there is nothing to guess). A revoked token stays listed, with the time it stopped.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.floor.errors import WijkbotError
from bot.floor.models import ApiToken

PREFIX = "wkb_"  # recognisable in a configuration file or a leak scanner
MAX_NAME = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created_at, row.revoked_at)


def create_token(session: Session, name: str, *, now: datetime) -> tuple[str, TokenInfo]:
    """A new token (returned once, in clear) under a NAME no working token has; the caller commits."""
    name = " ".join(name.split())
    if not name:
        raise WijkbotError("a token needs a name (who or what uses it)")
    if len(name) > MAX_NAME:
        raise WijkbotError(f"a token name has at most {MAX_NAME} characters")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))):
        raise WijkbotError(f"a working token named {name!r} exists; revoke it first or choose another name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, token_hash=token_hash(token), created_at=now)
    session.add(row)
    session.flush()
    return token, _info(row)


def list_tokens(session: Session) -> list[TokenInfo]:
    return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(session: Session, which: str, *, now: datetime) -> TokenInfo:
    """Revoke the working token with this name, or the token with this id; the caller commits."""
    row = session.scalar(
        select(ApiToken).where(ApiToken.name == " ".join(which.split()), ApiToken.revoked_at.is_(None))
    )
    if row is None and which.isdigit():
        row = session.get(ApiToken, int(which))
    if row is None:
        raise WijkbotError(f"no working token named {which!r} and no token with that id")
    if row.revoked_at is None:
        row.revoked_at = now
    return _info(row)


def valid_token(session: Session, token: str) -> bool:
    """Whether TOKEN was made here and is not revoked."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return False
    found = session.execute(select(ApiToken.revoked_at).where(ApiToken.token_hash == token_hash(token))).first()
    return found is not None and found[0] is None
