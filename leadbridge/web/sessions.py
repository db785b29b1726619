"""Browser sessions, single-use magic links and the rate limiter, all stored in the database.

Rules:
- a session lives 12 hours (partners) or 8 hours (admins) and is looked up by its token's hash;
- a magic link is valid for 15 minutes and exactly once: the first use marks it used in the same
  transaction that creates the session, so two clicks never yield two sessions;
- a one-tap offer link grants a session once too (``claim_link_signin`` records its nonce as a used
  link row); the link itself stays usable by a browser already signed in as its user;
- a rate-limited bucket allows ``limit`` attempts per sliding ``window``; attempts beyond it are
  refused without being counted, and old hits are pruned as we go;
- a throttled bucket (one client and one address) lets ``free`` hits through, then each further one
  must wait twice as long as the one before (1 s, 2 s, 4 s … up to ``cap``) after the latest hit;
  hits older than ``window`` are forgotten. Nobody is ever locked out for good, and since the bucket
  names the client, an attacker elsewhere only slows himself down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import CursorResult, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.types import UtcDateTime
from leadbridge.core.store.web_tables import MagicLinkRow, PartnerUserRow, RateLimitHitRow, WebSessionRow
from leadbridge.web.accounts import PartnerPrincipal, active_partner_user
from leadbridge.web.security import new_token, token_hash
from leadbridge.web.session_cache import PartnerSessionCache

SESSION_TTL = {"partner": timedelta(hours=12), "admin": timedelta(hours=8)}
MAGIC_LINK_TTL = timedelta(minutes=15)


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


class LinkRefused(Exception):
    """A sign-in link that cannot be used; ``problem`` says why (shown to the person)."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def start_session(session: Session, kind: str, user_id: str) -> str:
    """Create a session for ``user_id``; returns the raw token for the cookie."""
    raw = new_token()
    now = utcnow()
    session.add(
        WebSessionRow(
            token_hash=token_hash(raw),
            kind=kind,
            user_id=user_id,
            created_at=now,
            expires_at=now + SESSION_TTL[kind],
        )
    )
    return raw


def session_user(session: Session, raw: str | None, kind: str) -> str | None:
    """The user id of a live session of ``kind``, or None."""
    if not raw:
        return None
    row = session.get(WebSessionRow, token_hash(raw))
    if row is None or row.kind != kind or row.expires_at <= utcnow():
        return None
    return row.user_id


# Built once: statement construction costs more than running it on every inbox request.
_PARTNER_OF_SESSION = (
    select(
        PartnerUserRow.id,
        PartnerUserRow.partner_id,
        PartnerRow.name,
        PartnerUserRow.language,
        WebSessionRow.expires_at,
    )
    .select_from(WebSessionRow)
    .join(PartnerUserRow, PartnerUserRow.id == WebSessionRow.user_id)
    .join(PartnerRow, PartnerRow.id == PartnerUserRow.partner_id)
    .where(
        WebSessionRow.token_hash == bindparam("token"),
        WebSessionRow.kind == "partner",
        WebSessionRow.expires_at > bindparam("now", type_=UtcDateTime()),
        PartnerUserRow.revoked_at.is_(None),
        PartnerRow.active.is_(True),
    )
)


def partner_of_session(
    session: Session, raw: str | None, cache: PartnerSessionCache | None = None
) -> PartnerPrincipal | None:
    """The principal of a live partner session whose user is not revoked and whose partner is
    active — one query, since every inbox request asks it; remembered in ``cache`` when given."""
    if not raw:
        return None
    digest = token_hash(raw)
    row = session.execute(_PARTNER_OF_SESSION, {"token": digest, "now": utcnow()}).first()
    if row is None:
        return None
    user_id, partner_id, name, language, expires_at = row
    principal = PartnerPrincipal(partner_id, name, user_id, None, language)
    if cache is not None:
        cache.put(digest, principal, expires_at)
    return principal


def cached_partner(cache: PartnerSessionCache, raw: str | None) -> PartnerPrincipal | None:
    """The principal ``cache`` holds for the session token ``raw``, if any (no database access)."""
    return cache.get(token_hash(raw)) if raw else None


def end_session(session: Session, raw: str | None) -> None:
    if raw:
        session.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == token_hash(raw)))


def issue_magic_link(session: Session, user: PartnerUserRow, next_path: str = "/inbox") -> str:
    """A fresh single-use sign-in token for ``user``; ``next_path`` must be a local path."""
    if not next_path.startswith("/") or next_path.startswith("//"):
        next_path = "/inbox"
    raw = new_token()
    now = utcnow()
    session.add(
        MagicLinkRow(
            token_hash=token_hash(raw),
            partner_user_id=user.id,
            next_path=next_path,
            created_at=now,
            expires_at=now + MAGIC_LINK_TTL,
            used_at=None,
        )
    )
    return raw


def redeem_magic_link(session: Session, raw: str) -> tuple[PartnerUserRow, str]:
    """Use a magic link once; returns the user and where to go, or raises ``LinkRefused``."""
    digest = token_hash(raw)
    row = session.get(MagicLinkRow, digest)
    if row is None:
        raise LinkRefused(LinkProblem.UNKNOWN)
    if row.used_at is not None:
        raise LinkRefused(LinkProblem.USED)
    now = utcnow()
    if row.expires_at <= now:
        raise LinkRefused(LinkProblem.EXPIRED)
    # Conditional update: of two concurrent redemptions only one changes a row.
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(MagicLinkRow)
        .where(MagicLinkRow.token_hash == digest, MagicLinkRow.used_at.is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise LinkRefused(LinkProblem.USED)
    user = active_partner_user(session, row.partner_user_id)
    if user is None:
        raise LinkRefused(LinkProblem.REVOKED)
    return user, row.next_path


def claim_link_signin(
    session: Session, user_id: str, nonce: str, next_path: str, expires_at: datetime
) -> bool:
    """Record that the one-tap link with ``nonce`` signed its user in; False if it already had.

    The row lives in the magic-link table (used at once), keyed by a hash of the nonce, so a
    concurrent second use hits the primary key and loses."""
    digest = token_hash(f"offer-link:{nonce}")
    if session.get(MagicLinkRow, digest) is not None:
        return False
    now = utcnow()
    try:
        with session.begin_nested():
            session.add(
                MagicLinkRow(
                    token_hash=digest,
                    partner_user_id=user_id,
                    next_path=next_path,
                    created_at=now,
                    expires_at=expires_at,
                    used_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def allow_attempt(session: Session, bucket: str, *, limit: int, window: timedelta) -> bool:
    """Record an attempt in ``bucket`` and say whether it is within ``limit`` per ``window``."""
    now = utcnow()
    since = now - window
    session.execute(
        delete(RateLimitHitRow).where(RateLimitHitRow.bucket == bucket, RateLimitHitRow.at < since)
    )
    count = session.execute(
        select(func.count()).select_from(RateLimitHitRow).where(RateLimitHitRow.bucket == bucket)
    ).scalar_one()
    if count >= limit:
        return False
    session.add(RateLimitHitRow(bucket=bucket[:400], at=now))
    return True


@dataclass(frozen=True)
class Throttle:
    """``free`` attempts, then a doubling delay up to ``cap``; attempts older than ``window`` forgotten."""

    free: int = 3
    window: timedelta = timedelta(hours=1)
    cap: timedelta = timedelta(minutes=15)


def throttle_wait(session: Session, bucket: str, rule: Throttle, *, now: datetime | None = None) -> float:
    """Seconds the caller must still wait before the next attempt in ``bucket`` (0: go ahead)."""
    free, window, cap = rule.free, rule.window, rule.cap
    now = now or utcnow()
    bucket = bucket[:400]
    session.execute(
        delete(RateLimitHitRow).where(RateLimitHitRow.bucket == bucket, RateLimitHitRow.at < now - window)
    )
    count, last = session.execute(
        select(func.count(), func.max(RateLimitHitRow.at)).where(RateLimitHitRow.bucket == bucket)
    ).one()
    if count < free or last is None:
        return 0.0
    delay = min(float(2 ** min(count - free, 30)), cap.total_seconds())
    if last.tzinfo is None:  # SQLite hands the aggregate back naive; it was stored in UTC
        last = last.replace(tzinfo=now.tzinfo)
    return max(0.0, (last - now).total_seconds() + delay)


def record_hit(session: Session, bucket: str, *, now: datetime | None = None) -> None:
    """Count one attempt (a failed login, a sign-in request) in ``bucket``."""
    session.add(RateLimitHitRow(bucket=bucket[:400], at=now or utcnow()))


def clear_hits(session: Session, bucket: str) -> None:
    """Forget ``bucket``'s attempts (after a successful login)."""
    session.execute(delete(RateLimitHitRow).where(RateLimitHitRow.bucket == bucket[:400]))
