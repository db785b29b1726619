"""Country names and codes, offline (pycountry with its German translations).

The rule: a country is stored as its ISO 3166-1 alpha-2 code. Input may be an alpha-2 or alpha-3
code, or an English or German name (official or common), in any case; anything else is an error.
"""

from __future__ import annotations

import gettext
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import pycountry

# Names CRMs commonly use that are neither ISO names nor their German translation.
_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "united states of america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "czech republic": "CZ",
    "russia": "RU",
    "south korea": "KR",
    "schweiz": "CH",
    "suisse": "CH",
    "österreich": "AT",
    "deutschland": "DE",
    "brd": "DE",
    "vereinigte staaten": "US",
    "grossbritannien": "GB",
    "großbritannien": "GB",
    "tschechien": "CZ",
    "niederlande": "NL",
}


def _identity(text: str) -> str:
    return text


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip().lower())


@lru_cache(maxsize=1)
def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    translate: Callable[[str], str]
    try:
        german = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"])
        translate = german.gettext
    except OSError:  # translations missing from a stripped install: English names still work
        translate = _identity
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                index[_fold(name)] = code
                index[_fold(translate(name))] = code
        index[country.alpha_3.lower()] = code
        index[code.lower()] = code
    index.update(_ALIASES)
    return index


def normalise_country(value: str) -> str:
    """Return the ISO alpha-2 code for a code or name; raise ``ValueError`` if unknown."""
    code = _name_index().get(_fold(value))
    if code is None:
        raise ValueError(f"unknown country {value!r}: use an ISO 3166 code (DE) or a name (Germany)")
    return code


def country_name(code: str, language: str = "en") -> str:
    """Return the country's short name for an ISO alpha-2 code, in English or German."""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        raise ValueError(f"unknown country code {code!r}")
    name: str = getattr(country, "common_name", None) or country.name
    if language == "de":
        try:
            return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["de"]).gettext(name)
        except OSError:
            return name
    return name
