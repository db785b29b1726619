"""One person, one lead: a qualified lead that duplicates an open or held lead is not routed.

Rules (policy ``dedup``; every rule can be switched off):
- the same person: the same e-mail (stored normalised: trimmed, lower case), or the same phone
  number once both are normalised to E.164 by ``phonenumbers`` (the lead's country as the default
  region) — phones are compared among the leads of the same postal region or e-mail;
- the same account (``company_postal``, off by default): the same country and postal code and
  company names at least ``company_similarity`` alike (``difflib`` ratio of the names folded:
  case, punctuation, legal forms such as GmbH, AG, Ltd dropped; names whose numbers differ are
  never alike);
- a lead is only the duplicate of an earlier one (the first lead of a person stays the lead);
- only leads that are open (qualified, routing, offered) or held by a partner (accepted, working)
  count: a duplicate of a closed, lost or nurtured lead is new interest and is routed;
- a duplicate is rejected (reason ``duplicate``, the original and what matched in its payload) and
  the original gets a ``note`` naming it, so its holder sees the new interest on its timeline;
- an admin who splits a duplicate (``split_duplicate``) qualifies it again, and it is never checked
  against that original again;
- an admin who merges a lead into another (``merge_duplicate``: the same person, which the rules did
  not see) rejects it as that lead's duplicate (match ``admin``) exactly as the rules would have,
  the other lead gets the note; only a lead not routed yet (received or qualified) can be merged —
  one that is offered or held has partners involved (withdraw, re-route or close it instead) — and
  never into itself or into an erased lead;
- to help, the cockpit lists a lead's *possible* duplicates (``possible_duplicates``): other leads,
  in any state but erased, with the same e-mail, the same phone or a company name at least
  ``SUGGEST_SIMILARITY`` alike in the same postal code — looser than the rules, as a person decides.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.lifecycle import CLAIMED_STATES, EventKind, LeadState
from leadbridge.core.store.tables import OPEN_STATE_NAMES, OPEN_STATES, LeadEventRow, LeadRow

ACTIVE = frozenset({LeadState.QUALIFIED, LeadState.ROUTING, LeadState.OFFERED} | set(CLAIMED_STATES)) - {
    LeadState.WON,
    LeadState.LOST,
}
assert {s.value for s in ACTIVE} == set(OPEN_STATE_NAMES), "ix_leads_open_region covers the open states"
_LEGAL_FORMS = re.compile(r"\b(gmbh|mbh|ag|kg|ohg|ug|se|ltd|limited|inc|llc|plc|sa|sas|srl|bv|nv|co)\b")
_NOT_WORD = re.compile(r"[^\w]+")


class Dedup(BaseModel):
    """The policy's ``dedup`` section (module rules)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    email: bool = True
    phone: bool = True
    company_postal: bool = False  # fuzzy account matching: opt in once the names are clean
    company_similarity: float = Field(default=0.9, ge=0.5, le=1.0)


@dataclass(frozen=True)
class Match:
    original: str  # the lead id it duplicates
    match: str  # email | phone | company


@functools.lru_cache(maxsize=65536)  # a region's open leads are compared with every new lead there
def normal_phone(phone: str | None, country: str | None) -> str | None:
    """E.164 form of ``phone`` (``None`` when it cannot be read as a valid number)."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, (country or "DE").upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def company_key(name: str | None) -> str:
    folded = _NOT_WORD.sub(" ", (name or "").casefold())
    return " ".join(_LEGAL_FORMS.sub(" ", folded).split())


def _alike(ours: str, theirs: str) -> float:
    """How alike two folded company names are (0 when either is empty or their numbers differ:
    "Muster 1" and "Muster 10" are two companies)."""
    if not ours or not theirs or re.findall(r"\d+", ours) != re.findall(r"\d+", theirs):
        return 0.0
    return difflib.SequenceMatcher(None, ours, theirs).ratio()


def find_duplicate(
    session: Session, row: LeadRow, rules: Dedup, split: Sequence[str] | None = None
) -> Match | None:
    """The open or held lead ``row`` duplicates, if any (module rules); ``split``: the originals an
    admin split it from, when the caller has read them already (``_splits_of``)."""
    if not rules.enabled:
        return None
    split = _split_from(session, row.id) if split is None else split
    earlier = (LeadRow.created_at < row.created_at) | (
        (LeadRow.created_at == row.created_at) & (LeadRow.id < row.id)
    )  # the first lead of a person stays the one; a later one is its duplicate
    others = [LeadRow.state.in_([s.value for s in ACTIVE]), LeadRow.id != row.id, earlier]
    if split:
        others.append(LeadRow.id.notin_(split))
    if rules.email and row.email:
        found = session.execute(
            select(LeadRow.id)
            .where(LeadRow.email == row.email, *others)
            .order_by(LeadRow.created_at)
            .limit(1)
        ).scalar_one_or_none()
        if found:
            return Match(found, "email")
    if not (row.postal_code and row.country) or not (rules.phone or rules.company_postal):
        return None
    phone = normal_phone(lead_from_row(row).phone, row.country) if rules.phone else None
    if phone is None and not rules.company_postal:
        return None  # nothing left to compare: spare the region's leads a read
    company = company_key(row.company)
    # only the columns compared (not each neighbour's whole stored lead): a busy postal region has
    # hundreds of open leads, and a routing pass asks this for every new lead
    near = session.execute(
        select(LeadRow.id, LeadRow.country, LeadRow.company, LeadRow.data["phone"].as_string())
        .where(LeadRow.country == row.country, LeadRow.postal_code == row.postal_code, *others)
        .order_by(LeadRow.created_at).limit(200)
    ).all()  # fmt: skip
    for other_id, other_country, other_company, other_phone in near:
        if phone and normal_phone(other_phone, other_country) == phone:
            return Match(other_id, "phone")
        if not rules.company_postal:
            continue
        alike = _alike(company, company_key(other_company))
        if alike and alike >= rules.company_similarity:
            return Match(other_id, "company")
    return None


@dataclass(frozen=True)
class _Seen:
    """A lead as dedup compares it: its order (created, then id) and the compared columns."""

    id: str
    created_at: datetime
    email: str | None
    country: str | None
    postal_code: str | None
    company: str | None
    phone: str | None

    def before(self, other: _Seen) -> bool:
        """``find_duplicate``'s order: the first lead of a person stays the lead."""
        return (self.created_at, self.id) < (other.created_at, other.id)


_SEEN = (
    LeadRow.id, LeadRow.created_at, LeadRow.email, LeadRow.country, LeadRow.postal_code, LeadRow.company,
    LeadRow.data["phone"].as_string().label("phone"),
)  # fmt: skip
_IN_LIST = 1000  # bounded IN lists
NEAR = 200  # neighbours compared per lead (``find_duplicate``'s limit)


def settle_duplicates(session: Session, lead_ids: Sequence[str], rules: Dedup, now: datetime) -> list[str]:
    """Reject the qualified leads among ``lead_ids`` that duplicate another (module rules); the ids
    left to route.

    The same decisions as ``find_duplicate`` asked lead by lead, oldest first (each rejection is
    seen by the leads after it), from a few queries for the whole pass: the open leads with the
    pass's e-mails, and the first open leads of each of the pass's postal regions — enough of them
    that every lead still has ``find_duplicate``'s first ``NEAR`` neighbours after leaving out
    itself, the leads rejected before it and the originals it was split from."""
    if not rules.enabled or not lead_ids:
        return list(lead_ids)
    qualified: list[_Seen] = []
    for part in _parts(list(lead_ids)):
        qualified += [
            _Seen(*row)
            for row in session.execute(
                select(*_SEEN).where(LeadRow.id.in_(part), LeadRow.state == LeadState.QUALIFIED.value)
            ).all()
        ]
    qualified.sort(key=lambda seen: (seen.created_at, seen.id))
    splits = _splits_of(session, [seen.id for seen in qualified])  # one query for the whole pass
    by_email = _open_by_email(session, qualified) if rules.email else {}
    phones = {s.id: normal_phone(s.phone, s.country) if rules.phone else None for s in qualified}
    regions: Counter[tuple[str, str]] = Counter(
        (s.country, s.postal_code)
        for s in qualified
        if s.postal_code and s.country and (phones[s.id] is not None or rules.company_postal)
    )
    most_splits = max((len(found) for found in splits.values()), default=0)
    near = _open_by_region(session, regions, most_splits)
    service = LeadService(session, lambda: now)
    rejected: set[str] = set()
    for seen in qualified:
        split = set(splits.get(seen.id, ()))
        found = _duplicate_among(seen, rules, phones[seen.id], by_email, near, split, rejected)
        if found is None:
            continue
        payload = {"reason_code": "duplicate", "duplicate_of": found.original, "match": found.match}
        service.apply(
            seen.id, EventKind.REJECT, actor="dedup", idempotency_key=f"duplicate:{seen.id}", payload=payload
        )
        service.apply(
            found.original,
            EventKind.NOTE,
            actor="dedup",
            idempotency_key=f"duplicate-of:{found.original}:{seen.id}",
            payload={"duplicate": seen.id, "match": found.match},
        )
        rejected.add(seen.id)
    return [lead_id for lead_id in lead_ids if lead_id not in rejected]


def _parts(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _IN_LIST):
        yield items[start : start + _IN_LIST]


def _open(session: Session, query: Select[Any]) -> list[_Seen]:
    return [_Seen(*row) for row in session.execute(query).all()]


def _open_by_email(session: Session, leads: Sequence[_Seen]) -> dict[str, list[_Seen]]:
    """E-mail → the open or held leads with it, oldest first (index ``ix_leads_email``)."""
    found: dict[str, list[_Seen]] = {}
    emails = sorted({seen.email for seen in leads if seen.email})
    for part in _parts(emails):
        query = select(*_SEEN).where(LeadRow.email.in_(part), LeadRow.state.in_([s.value for s in ACTIVE]))
        for seen in _open(session, query):
            assert seen.email is not None
            found.setdefault(seen.email, []).append(seen)
    for same in found.values():
        same.sort(key=lambda seen: (seen.created_at, seen.id))
    return found


def _open_by_region(
    session: Session, regions: Counter[tuple[str, str]], most_splits: int
) -> dict[tuple[str, str], list[_Seen]]:
    """(country, postal code) → its first open or held leads, oldest first: ``NEAR`` plus one per
    pass lead there and the most splits any lead has (those may be left out for a lead), ranked by
    the database. Asked per country with a list of postal codes (``ix_leads_region`` walked for
    each; a list of (country, postal code) pairs made PostgreSQL scan every open lead)."""
    found: dict[tuple[str, str], list[_Seen]] = {}
    by_country: dict[str, list[str]] = {}
    for country, postal in sorted(regions):
        by_country.setdefault(country, []).append(postal)
    for country, postals in by_country.items():
        for part in _parts(postals):
            enough = NEAR + most_splits + max(regions[(country, postal)] for postal in part)
            rank = (
                func.row_number()
                .over(partition_by=LeadRow.postal_code, order_by=(LeadRow.created_at, LeadRow.id))
                .label("rank")
            )
            ranked = (
                select(*_SEEN, rank)
                .where(
                    LeadRow.country == country,
                    LeadRow.postal_code.in_(part),
                    OPEN_STATES,  # literal, so the partial index ``ix_leads_open_region`` matches
                )
                .subquery()
            )
            query = select(*(column for column in ranked.c if column.key != "rank")).where(
                ranked.c.rank <= enough
            )
            for seen in _open(session, query):
                assert seen.postal_code is not None  # the IN list's
                found.setdefault((country, seen.postal_code), []).append(seen)
    for same in found.values():
        same.sort(key=lambda seen: (seen.created_at, seen.id))
    return found


def _duplicate_among(
    seen: _Seen,
    rules: Dedup,
    phone: str | None,
    by_email: dict[str, list[_Seen]],
    near: dict[tuple[str, str], list[_Seen]],
    split: set[str],
    rejected: set[str],
) -> Match | None:
    """``find_duplicate`` for ``seen`` over leads read before: the same rules, in the same order
    (``rejected``: the leads this pass rejected before it, no longer open)."""

    def earlier(others: Sequence[_Seen]) -> Iterator[_Seen]:
        return (o for o in others if o.before(seen) and o.id not in rejected and o.id not in split)

    if rules.email and seen.email:
        first = next(earlier(by_email.get(seen.email, ())), None)
        if first is not None:
            return Match(first.id, "email")
    if not (seen.postal_code and seen.country) or not (rules.phone or rules.company_postal):
        return None
    if phone is None and not rules.company_postal:
        return None
    company = company_key(seen.company)
    for other in itertools.islice(earlier(near.get((seen.country, seen.postal_code), ())), NEAR):
        if phone and normal_phone(other.phone, other.country) == phone:
            return Match(other.id, "phone")
        if not rules.company_postal:
            continue
        alike = _alike(company, company_key(other.company))
        if alike and alike >= rules.company_similarity:
            return Match(other.id, "company")
    return None


def split_duplicate(session: Session, lead_id: str, *, actor: str, now: datetime) -> str:
    """An admin says ``lead_id`` is not a duplicate: it is qualified again (and routed); the id of
    the lead it was taken for, never matched against it again."""
    service = LeadService(session, lambda: now)
    events = service.events(lead_id)
    original = next(
        (
            str(e.payload.get("duplicate_of"))
            for e in reversed(events)
            if e.payload.get("reason_code") == "duplicate"
        ),
        None,
    )
    if original is None:
        raise ValueError(f"lead {lead_id} was not rejected as a duplicate")
    service.apply(
        lead_id,
        EventKind.QUALIFY,
        actor=actor,
        idempotency_key=f"split:{lead_id}:{original}",
        payload={"split_from": original},
    )
    return original


SUGGEST_SIMILARITY = 0.8


def possible_duplicates(session: Session, row: LeadRow, *, limit: int = 5) -> list[Match]:
    """Other leads that may be the same person as ``row`` (module rules), the closest match first."""
    others = [LeadRow.id != row.id, LeadRow.state != LeadState.ERASED.value]
    found: dict[str, str] = {}
    if row.email:
        same = select(LeadRow.id).where(LeadRow.email == row.email, *others).order_by(LeadRow.created_at)
        found |= dict.fromkeys(session.execute(same.limit(limit)).scalars(), "email")
    if row.postal_code and row.country:
        region = (LeadRow.country == row.country, LeadRow.postal_code == row.postal_code)
        near = session.execute(
            select(LeadRow).where(*region, *others).order_by(LeadRow.created_at).limit(200)
        ).scalars()
        phone = normal_phone(lead_from_row(row).phone, row.country)
        company = company_key(row.company)
        for other in near:
            if other.id in found:
                continue
            if phone and normal_phone((other.data or {}).get("phone"), other.country) == phone:
                found[other.id] = "phone"
            elif _alike(company, company_key(other.company)) >= SUGGEST_SIMILARITY:
                found[other.id] = "company"
    return [Match(lead_id, match) for lead_id, match in list(found.items())[:limit]]


MERGEABLE = frozenset({LeadState.RECEIVED.value, LeadState.QUALIFIED.value})


def merge_duplicate(session: Session, lead_id: str, into: str, *, actor: str, now: datetime) -> None:
    """An admin says ``lead_id`` is the same person as ``into`` (module rules); ``ConflictError``
    says why a merge is refused, ``NotFound`` names a missing lead."""
    if lead_id == into:
        raise ConflictError("a lead cannot be merged into itself")
    service = LeadService(session, lambda: now)
    row = service.get_row(lead_id, for_update=True)
    target = service.get_row(into)
    if target.state == LeadState.ERASED.value:
        raise ConflictError(f"lead {into} is erased: nothing to merge into")
    if row.state not in MERGEABLE:
        raise ConflictError(
            f"lead {lead_id} is {row.state}: only a lead not routed yet (received or qualified) can be "
            "merged; withdraw, re-route or close it instead"
        )
    payload = {"reason_code": "duplicate", "duplicate_of": into, "match": "admin"}
    service.apply(
        lead_id, EventKind.REJECT, actor=actor, idempotency_key=f"merge:{lead_id}:{into}:{row.version}",
        payload=payload, row=row,
    )  # fmt: skip
    service.apply(
        into,
        EventKind.NOTE,
        actor=actor,
        idempotency_key=f"duplicate-of:{into}:{lead_id}:{row.version}",
        payload={"duplicate": lead_id, "match": "admin"},
    )


def _split_from(session: Session, lead_id: str) -> list[str]:
    """The originals an admin split ``lead_id`` from (by their idempotency keys: one indexed query)."""
    keys = session.execute(
        select(LeadEventRow.idempotency_key).where(
            LeadEventRow.lead_id == lead_id, or_(LeadEventRow.idempotency_key.like(f"split:{lead_id}:%"))
        )
    ).scalars()
    return [key.rsplit(":", 1)[-1] for key in keys]


def _splits_of(session: Session, lead_ids: Sequence[str]) -> dict[str, list[str]]:
    """``_split_from`` for many leads at once: lead id → the originals it was split from."""
    found: dict[str, list[str]] = {}
    for start in range(0, len(lead_ids), 1000):  # bounded IN lists
        part = list(lead_ids[start : start + 1000])
        rows = session.execute(
            select(LeadEventRow.lead_id, LeadEventRow.idempotency_key).where(
                LeadEventRow.lead_id.in_(part), LeadEventRow.idempotency_key.like("split:%")
            )
        ).all()
        for lead_id, key in rows:
            if key.startswith(f"split:{lead_id}:"):
                found.setdefault(lead_id, []).append(key.rsplit(":", 1)[-1])
    return found
