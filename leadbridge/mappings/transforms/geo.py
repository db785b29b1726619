"""Phone numbers (E.164 via ``phonenumbers``) and countries (ISO codes via ``core.countries``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
import pycountry
from pydantic import field_validator

from leadbridge.core.countries import country_name, normalise_country
from leadbridge.mappings.transforms.base import Args, Transform, ValueProblem, register

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_FORMATS = {
    "e164": phonenumbers.PhoneNumberFormat.E164,
    "international": phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    "national": phonenumbers.PhoneNumberFormat.NATIONAL,
}


class PhoneArgs(Args):
    region: str | None = None
    format: Literal["e164", "international", "national"] = "e164"
    invalid: Literal["keep", "error", "drop"] = "keep"

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return normalise_country(value) if value else None


@register
class Phone(Transform[PhoneArgs]):
    """A phone number, canonical in E.164 (``+493012345678``).

    Inbound, a value already in E.164 form is taken as it is (parsing costs ~50 µs, the dominant
    cost of a pull); anything else is parsed with the lead's country (``address.country``) as the
    default region, else ``region``. A number that does not parse or is not valid is kept as
    written (``invalid: keep``, the default: a messy phone is no reason to hold a lead back),
    rejected (``error``) or dropped (``drop``). Outbound writes ``format``.
    """

    name = "phone"
    args_model = PhoneArgs
    primary = "region"
    reads_target = True

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        text = str(value).strip()
        if _E164.match(text):
            return text
        region = target.get("address.country") or self.args.region
        try:
            number = phonenumbers.parse(text, region)
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
        if self.args.invalid == "error":
            raise ValueProblem(f"{value!r} is not a valid phone number (region {region or 'unknown'})")
        return text or None if self.args.invalid == "keep" else None

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if self.args.format == "e164":
            return value
        try:
            number = phonenumbers.parse(str(value), source.get("address.country") or self.args.region)
        except phonenumbers.NumberParseException:
            return value
        return phonenumbers.format_number(number, _FORMATS[self.args.format])


# ISO alpha-2 codes as CRMs store them: accepted without the name lookup.
_CODES = frozenset(country.alpha_2 for country in pycountry.countries)


@lru_cache(maxsize=4096)
def _code_for(text: str) -> str:
    # A CRM holds a few dozen distinct spellings; folding and looking each up once is enough.
    return normalise_country(text)


class CountryArgs(Args):
    remote: Literal["code", "name"] = "code"
    language: Literal["en", "de"] = "en"


@register
class Country(Transform[CountryArgs]):
    """A country, canonical as an ISO 3166-1 alpha-2 code. Inbound accepts codes and English or
    German names (``Deutschland`` → ``DE``); outbound writes the code or (``remote: name``) the
    short name in ``language``."""

    name = "country"
    args_model = CountryArgs
    primary = "remote"

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if value.__class__ is str and value in _CODES:
            return value
        try:
            return _code_for(str(value))
        except ValueError as error:
            raise ValueProblem(str(error)) from None

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        code = self.inbound(value, source, target)
        return country_name(code, self.args.language) if self.args.remote == "name" else code
