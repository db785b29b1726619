"""The e-mails leadbridge sends: sign-in link, offer, reminder, escalation and daily digest.

Rules: partner mails are in the partner user's language; offer and reminder mails carry the blind
preview only (never the lead's identity), signed one-tap accept/decline links (``links.py``) valid
until the offer's deadline (at most 7 days), and the sales material configured for the lead's
product lines in the policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape

from leadbridge.connectors.inbox.preview import BlindPreview
from leadbridge.notify.i18n import translator
from leadbridge.notify.links import OfferLink, sign_offer_link

LINK_MAX_AGE = timedelta(days=7)


class Material(Protocol):
    """A sales-material link (the policy's ``materials`` entries have this shape)."""

    title: str
    url: str


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Recipient:
    email: str
    language: str = "en"
    user_id: str | None = None
    name: str | None = None


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_value(text: str) -> str:
    """``text`` fit for a mail header: every run of control characters (CR, LF, NUL, tab, …) becomes
    one space, so data from a CRM can never end a header line or start a new header."""
    return _CONTROL.sub(" ", text).strip()


def _message(
    to: Recipient, subject: str, template: str, values: dict[str, Any], *, html: bool
) -> EmailMessage:
    t = translator(to.language)
    context = {"t": t, **values}
    message = EmailMessage()
    message["To"] = header_value(to.email)
    message["Subject"] = header_value(subject)
    message.set_content(_env.get_template(f"{template}.txt").render(context))
    if html:
        message.add_alternative(_env.get_template(f"{template}.html").render(context), subtype="html")
    return message


def signin_mail(to: Recipient, url: str) -> EmailMessage:
    t = translator(to.language)
    return _message(to, t("mail_signin_subject"), "signin", {"url": url}, html=False)


def offer_links(
    secret_key: str, base_url: str, preview: BlindPreview, user_id: str, now: datetime
) -> dict[str, str]:
    """Signed accept/decline/view URLs for one partner user, valid until the deadline (≤ 7 days)."""
    expires = min(preview.deadline or now + LINK_MAX_AGE, now + LINK_MAX_AGE)
    base = base_url.rstrip("/")
    links = {}
    for action in ("accept", "decline", "view"):
        token = sign_offer_link(secret_key, OfferLink(preview.offer_id, user_id, action, expires))
        links[action] = f"{base}/inbox/o/{token}"
    if preview.is_pool:
        links["pool"] = f"{base}/inbox/pool"  # the partner's whole pool, "next lead" included
    return links


def materials_for(preview: BlindPreview, materials: Mapping[str, Sequence[Material]]) -> list[Material]:
    """The policy's sales material for the lead's product lines, each link once."""
    found: dict[str, Material] = {}
    for product in preview.product_interests:
        for item in [*materials.get(product.lower(), ()), *materials.get(product, ())]:
            found.setdefault(item.url, item)
    return list(found.values())


def offer_mail(
    to: Recipient,
    preview: BlindPreview,
    links: dict[str, str],
    materials: list[Material],
    *,
    reminder: bool = False,
) -> EmailMessage:
    t = translator(to.language)
    products = ", ".join(preview.product_interests) or "-"
    if reminder:
        deadline = f"{preview.deadline:%Y-%m-%d %H:%M} UTC" if preview.deadline else "-"
        subject = t("mail_reminder_subject", deadline=deadline)
    else:
        subject = t("mail_offer_subject", products=products, region=preview.region)
    values = {"preview": preview, "links": links, "materials": materials, "reminder": reminder}
    return _message(to, subject, "offer", values, html=True)


def escalation_mail(to: Recipient, subject: str, lines: list[str], cockpit_url: str) -> EmailMessage:
    t = translator(to.language)
    return _message(
        to,
        t("mail_escalation_subject", subject=subject),
        "escalation",
        {"lines": lines, "url": cockpit_url},
        html=False,
    )


def reclaim_mail(to: Recipient, preview: BlindPreview, reason: str, inbox_url: str) -> EmailMessage:
    """A lead the partner held was taken back (SLA breach): which one (blind) and why."""
    t = translator(to.language)
    values = {"preview": preview, "reason": reason, "url": inbox_url}
    return _message(to, t("mail_reclaim_subject", region=preview.region), "reclaimed", values, html=False)


def erasure_mail(to: Recipient, lead_id: str, inbox_url: str) -> EmailMessage:
    """A lead the partner was offered or held was erased at the data subject's request: its id only
    (nothing personal is left to name it by), and the request to delete any copies."""
    t = translator(to.language)
    values = {"lead_id": lead_id, "url": inbox_url}
    return _message(to, t("mail_erased_subject", lead_id=lead_id), "erased", values, html=False)


@dataclass(frozen=True)
class DigestLine:
    lead_id: str
    label: str
    state: str
    next_follow_up: str | None


def digest_mail(
    to: Recipient, offers: list[BlindPreview], leads: list[DigestLine], inbox_url: str
) -> EmailMessage:
    t = translator(to.language)
    subject = t("mail_digest_subject", open=len(offers), held=len(leads))
    values = {"offers": offers, "leads": leads, "url": inbox_url}
    return _message(to, subject, "digest", values, html=False)


def admin_digest_mail(to: Recipient, subject: str, template: str, values: dict[str, Any]) -> EmailMessage:
    """A digest for channel managers (``digests.py``): plain text, English."""
    return _message(to, subject, template, values, html=False)
