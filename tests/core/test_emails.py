"""The fast path for plain e-mail addresses never accepts what ``email_validator`` refuses or changes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from leadbridge.core.emails import check_email, is_plain
from leadbridge.core.model import Lead

# Characters that make addresses near the edge: dots, hyphens, digits, specials, one non-ASCII.
ALPHABET = "ab9.-_+!#@xü"
parts = st.text(ALPHABET, min_size=0, max_size=12)
tlds = st.sampled_from(["de", "com", "example", "test", "local", "x", "c0m", "io"])


@settings(max_examples=600, deadline=None)
@given(local=parts, domain=parts, tld=tlds)
def test_a_plain_address_is_one_email_validator_accepts_unchanged(local: str, domain: str, tld: str) -> None:
    address = f"{local}@{domain}.{tld}"
    if not is_plain(address):
        return
    assert validate_email(address)[1] == address


@pytest.mark.parametrize(
    "address",
    [
        "a..b@c.de",
        "a@-b.de",
        "a@b-.de",
        "a@b.test",
        "a@b.localhost",
        ".a@b.de",
        "a@b",
        "a@xn--80ak6aa92e.com",
    ],
)
def test_addresses_at_the_edges_get_the_full_check(address: str) -> None:
    assert not is_plain(address)


def test_leads_keep_the_full_checks_errors_and_normalisation() -> None:
    assert Lead(email=" Anna@Alt.Example ").email == "anna@alt.example"
    assert Lead(email="Anna <anna@alt.example>").email == "anna@alt.example"
    with pytest.raises(ValueError, match="must have an @-sign"):
        Lead(email="not-an-email")
    with pytest.raises(PydanticCustomError, match="special-use"):
        check_email("a@b.test")
