"""Realistic, deterministic sample data for the stand-ins: European companies, people and leads.

Everything here is service-neutral (``SeedLead``); each stand-in maps it onto its own objects
(Salesforce Lead/Account/Contact, HubSpot contact/company). Same seed → same data, except the
timestamps, which are offsets back from the ``now`` the caller passes (freeze the org clock for
fully reproducible stamps).
"""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib.resources import files

# Product lines leadbridge routes on (codes as in the shipped leads.csv / partners.csv).
PRODUCT_LINES: tuple[str, ...] = (
    "heat_pumps",
    "solar_inverters",
    "batteries",
    "wallboxes",
    "ventilation",
)
INDUSTRIES: tuple[str, ...] = (
    "construction",
    "energy",
    "manufacturing",
    "utilities",
    "real_estate",
    "retail",
    "hospitality",
    "agriculture",
    "healthcare",
    "education",
    "public_sector",
    "transportation",
)
STAGES: tuple[tuple[str, float], ...] = (("lead", 0.30), ("mql", 0.45), ("sql", 0.25))
CAMPAIGNS: tuple[str, ...] = (
    "Messe ISH 2026",
    "Intersolar 2026",
    "Newsletter Q3",
    "Webinar Wärmepumpe",
    "Google Ads Solar",
    "Förderprogramm BEG",
)
SOURCES: tuple[str, ...] = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
TITLES: tuple[str, ...] = (
    "Geschäftsführer",
    "Inhaberin",
    "Einkauf",
    "Technischer Leiter",
    "Facility Manager",
    "Projektleiterin",
    "Energieberater",
    "Hausverwaltung",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


_FIRST = {
    "de": _words(
        "Anna,Lukas,Emma,Felix,Mia,Jonas,Lea,Paul,Sophie,Stefan,Julia,Thomas,Katrin,"
        "Michael,Sabine,Jürgen,Birgit,Andreas,Claudia,Matthias"
    ),
    "fr": _words("Camille,Louis,Chloé,Hugo,Léa,Nicolas,Manon,Julien,Élodie,Pierre"),
    "nl": _words("Daan,Sanne,Bram,Femke,Lars,Eva,Sem,Anouk,Thijs,Lotte"),
    "it": _words("Giulia,Marco,Francesca,Luca,Chiara,Matteo"),
    "pl": _words("Anna,Piotr,Katarzyna,Tomasz,Magdalena,Paweł"),
    "da": _words("Mette,Lars,Sofie,Mads,Freja,Rasmus"),
    "cs": _words("Jana,Petr,Lucie,Tomáš,Veronika,Jakub"),
}
_LAST = {
    "de": _words(
        "Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Schulz,Hoffmann,"
        "Schäfer,Koch,Bauer,Richter,Klein,Wolf,Schröder,Neumann,Braun,Zimmermann,Krüger,"
        "Hofmann,Hartmann,Lange,Huber,Gruber"
    ),
    "fr": _words("Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau"),
    "nl": _words("de Jong,Jansen,de Vries,van den Berg,Bakker,Visser,Smit,Meijer,Mulder"),
    "it": _words("Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Gruber,Pichler"),
    "pl": _words("Nowak,Kowalski,Wiśniewski,Wójcik,Kowalczyk,Kamiński"),
    "da": _words("Nielsen,Jensen,Hansen,Pedersen,Andersen,Christensen"),
    "cs": _words("Novák,Svoboda,Novotný,Dvořák,Černý,Procházka"),
}
_COMPANY_WORDS = _words(
    "Haustechnik,Elektro,Solar,Energie,Wärme,Bau,Gebäudetechnik,Klima,Immobilien,"
    "Wohnbau,Sanitär,Dach,Stadtwerke,Agrar,Logistik"
)
_LEGAL = {
    "DE": _words("GmbH,GmbH & Co. KG,AG,KG,e.K.,eG"),
    "AT": _words("GmbH,AG,KG,OG"),
    "CH": _words("AG,GmbH,SA"),
    "NL": _words("B.V.,N.V."),
    "FR": _words("SAS,SARL,SA"),
    "BE": _words("BV,SA,SRL"),
    "LU": _words("S.à r.l.,SA"),
    "IT": _words("S.r.l.,S.p.A."),
    "PL": _words("Sp. z o.o.,S.A."),
    "DK": _words("ApS,A/S"),
    "CZ": _words("s.r.o.,a.s."),
}
_STREETS = _words(
    "Hauptstraße,Bahnhofstraße,Industriestraße,Gartenweg,Schillerstraße,Am Markt,"
    "Lindenallee,Gewerbepark,Mühlenweg,Rue de la Gare,Kerkstraat,Via Roma"
)
_DIAL = {"DE": "+49", "AT": "+43", "CH": "+41", "NL": "+31", "FR": "+33", "BE": "+32"}
_DIAL |= {"LU": "+352", "IT": "+39", "PL": "+48", "DK": "+45", "CZ": "+420"}


@dataclass(frozen=True)
class City:
    """One row of the shipped city table; ``postal_max`` empty means a single fixed postal code."""

    country: str
    postal_code: str
    postal_max: str
    city: str
    state: str
    latitude: float
    longitude: float
    language: str


@dataclass(frozen=True)
class SeedLead:
    """A generated prospect: person, company, address with coordinates, qualification, consent."""

    number: int
    first_name: str
    last_name: str
    email: str
    phone: str
    title: str
    company: str
    website: str
    industry: str
    employees: int
    annual_revenue: Decimal
    street: str
    postal_code: str
    city: str
    state: str
    country: str
    latitude: float
    longitude: float
    language: str
    stage: str
    product_interests: tuple[str, ...]
    score: int
    campaign: str
    source: str
    consent_share: bool
    consent_marketing: bool
    created_at: datetime


@lru_cache(maxsize=1)
def cities() -> tuple[City, ...]:
    """The shipped city table (DE/AT/CH/NL/FR/BE/LU/IT/PL/DK/CZ with postal codes and lat/lon)."""
    text = files("leadbridge.sandbox").joinpath("data/cities.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return tuple(
        City(
            r["country"],
            r["postal_code"],
            r["postal_max"],
            r["city"],
            r["state"],
            float(r["latitude"]),
            float(r["longitude"]),
            r["language"],
        )
        for r in rows
    )


def ascii_slug(text: str, sep: str = "-") -> str:
    """``Müller Haustechnik`` → ``mueller-haustechnik`` (German umlauts spelled out, accents dropped)."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return sep.join(words)


def _postal_code(rng: random.Random, city: City) -> str:
    if not city.postal_max or not city.postal_code.isdigit():
        return city.postal_code
    low, high = int(city.postal_code), int(city.postal_max)
    return str(rng.randint(low, high)).zfill(len(city.postal_code))


def _pick_stage(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for stage, share in STAGES:
        total += share
        if roll < total:
            return stage
    return STAGES[-1][0]


def _city_weighted(rng: random.Random) -> City:
    # Two thirds German-speaking DACH, the rest from the wider table: the manufacturer is German.
    table = cities()
    dach = [c for c in table if c.country in ("DE", "AT", "CH")]
    return rng.choice(dach) if rng.random() < 0.67 else rng.choice(table)


def generate_leads(seed: int, count: int, *, now: datetime, start: int = 1) -> list[SeedLead]:
    """``count`` leads numbered from ``start``; identical for the same seed (timestamps relative to now).

    Created dates spread over the 60 days before ``now``; sizes follow a small/mid/enterprise mix.
    """
    rng = random.Random(f"leads|{seed}")
    leads = []
    for number in range(start, start + count):
        city = _city_weighted(rng)
        language = city.language if city.language in _FIRST else "de"
        first, last = rng.choice(_FIRST[language]), rng.choice(_LAST[language])
        owner_name = rng.choice(_LAST[language])
        legal = rng.choice(_LEGAL.get(city.country, ("GmbH",)))
        company = f"{owner_name} {rng.choice(_COMPANY_WORDS)} {legal}"
        domain = f"{ascii_slug(company.rsplit(' ', 1)[0])}.example"
        size_roll = rng.random()
        employees = (
            rng.randint(1, 49)
            if size_roll < 0.6
            else rng.randint(50, 499)
            if size_roll < 0.9
            else rng.randint(500, 5000)
        )
        revenue = Decimal(employees * rng.randint(80, 250) * 1000)
        interests = tuple(sorted(rng.sample(PRODUCT_LINES, k=rng.choice((1, 1, 2, 3)))))
        leads.append(
            SeedLead(
                number=number,
                first_name=first,
                last_name=last,
                email=f"{ascii_slug(first, '.')}.{ascii_slug(last, '.')}{number}@{domain}",
                phone=f"{_DIAL.get(city.country, '+49')} {rng.randint(20, 99)} {rng.randint(10**5, 10**7)}",
                title=rng.choice(TITLES),
                company=company,
                website=f"https://{domain}",
                industry=rng.choice(INDUSTRIES),
                employees=employees,
                annual_revenue=revenue,
                street=f"{rng.choice(_STREETS)} {rng.randint(1, 180)}",
                postal_code=_postal_code(rng, city),
                city=city.city,
                state=city.state,
                country=city.country,
                latitude=round(city.latitude + rng.uniform(-0.04, 0.04), 5),
                longitude=round(city.longitude + rng.uniform(-0.06, 0.06), 5),
                language=language,
                stage=_pick_stage(rng),
                product_interests=interests,
                score=rng.randint(10, 99),
                campaign=rng.choice(CAMPAIGNS),
                source=rng.choice(SOURCES),
                consent_share=rng.random() < 0.8,
                consent_marketing=rng.random() < 0.6,
                created_at=now - timedelta(minutes=rng.randint(60, 60 * 24 * 60)),
            )
        )
    return leads


def generate_people(seed: int, count: int, *, language: str = "de") -> list[tuple[str, str]]:
    """``count`` (first, last) name pairs, e.g. for CRM users / owners."""
    rng = random.Random(f"people|{seed}")
    first, last = _FIRST.get(language, _FIRST["de"]), _LAST.get(language, _LAST["de"])
    return [(rng.choice(first), rng.choice(last)) for _ in range(count)]
