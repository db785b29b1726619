"""E-mail addresses on leads: the full ``email_validator`` check, with a fast path for plain ones.

``email_validator`` costs more than the whole rest of a lead's validation (IDNA tables, Unicode
normalisation), which bounds how fast a million-row file can be imported. Most addresses are plain
ASCII ``local@domain.tld``: an address that matches the conservative pattern below is one that
``email_validator`` accepts unchanged (dot-atom local part ≤ 64 characters, LDH labels, an
alphabetic top-level domain that is not special-use, no punycode labels), so it is accepted as is.
Anything else — Unicode, quoted parts, "Name <addr>", reserved names — takes the full check, with
its error messages. ``tests/core/test_emails.py`` compares both on generated addresses.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic.networks import validate_email

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:{_LABEL}\.)+(?P<tld>[a-z]{{2,63}}))")
# email_validator refuses these top-level names (special-use, RFC 6761 and friends).
_SPECIAL = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def is_plain(address: str) -> bool:
    """True when ``address`` is a plain ASCII address ``email_validator`` takes unchanged."""
    match = _PLAIN.fullmatch(address)
    if match is None or len(address) > 254 or len(match["local"]) > 64 or len(match["domain"]) > 253:
        return False
    return match["tld"] not in _SPECIAL and "--" not in match["domain"]


def check_email(value: str) -> str:
    """The normalised address; raises pydantic's error for an invalid one (module rules)."""
    if is_plain(value):
        return value
    return validate_email(value)[1]


Email = Annotated[str, AfterValidator(check_email), WithJsonSchema({"type": "string", "format": "email"})]
